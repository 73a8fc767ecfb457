"""Collaborative graph tokenizer: LightGCN (torch-geometric) trained with BPR, cached by content.

The normalised bipartite adjacency D^-1/2 A D^-1/2 is built once as a CSR sparse matrix and handed
to torch-geometric's LightGCN (its LGConv then does one sparse matrix product per layer instead of
edge-wise message passing). Layer weights alpha = 1 make the final embedding the SUM of the layer
0..L embeddings, as in XRec.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.nn import LGConv, LightGCN
from xrec_bench.files import atomic_file, atomic_write_json
from xrec_bench.records import InteractionGraph

# Bumped when the trainer's arithmetic changes, so embeddings cached by an older trainer are not reused:
# 2 = deterministic kernels (before, the backward of the batch's embedding gathers summed with parallel
# atomic adds, so two runs with two threads gave different embeddings).
TRAINER_VERSION = 2
# Config keys that change the learned embeddings (everything else, e.g. eval chunking, does not).
GRAPH_KEYS = ("embedding_dim", "num_layers", "lr", "batch_size", "weight_decay", "max_epochs",
              "patience", "eval_k", "init", "regularization", "negatives", "validation")

# The protocol's choices (init, regularization, negatives, validation) are declared with XRec's settings,
# in xrec_bench.methods.xrec.LIGHTGCN_PROTOCOL, and checked when the run config is resolved.


@dataclass
class GraphEmbeddings:
    """User and item embeddings of the graph tokenizer, with how they were obtained."""

    user: torch.Tensor  # (num_users, dim)
    item: torch.Tensor  # (num_items, dim)
    report: dict[str, Any] = field(default_factory=dict)


def normalized_adjacency(num_users: int, num_items: int, edges: np.ndarray) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the symmetric user-item graph (items offset by num_users), as sparse CSR."""
    edges = np.unique(np.asarray(edges, dtype=np.int64), axis=0)
    users = torch.from_numpy(edges[:, 0])
    items = torch.from_numpy(edges[:, 1]) + num_users
    rows = torch.cat([users, items])
    cols = torch.cat([items, users])
    n = num_users + num_items
    degree = torch.bincount(rows, minlength=n).float()
    inv_sqrt = degree.pow(-0.5)
    inv_sqrt[torch.isinf(inv_sqrt)] = 0.0
    values = inv_sqrt[rows] * inv_sqrt[cols]
    with warnings.catch_warnings():  # "sparse CSR is beta": it is what LGConv's spmm path takes
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n), check_invariants=False)
        return coo.coalesce().to_sparse_csr()


class _SymmetricSpMM(torch.autograd.Function):
    """A @ X whose backward is A @ G: valid because the normalised adjacency is symmetric.

    torch's generic sparse backward transposes the CSR matrix (a sort) on every call, which cost
    more than the whole forward pass; the symmetric shortcut makes a step forward-bound.
    """

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, ctx.adjacency @ grad


class SymmetricLGConv(LGConv):
    """LGConv that propagates through a pre-normalised symmetric sparse adjacency with one spmm."""

    def forward(self, x: torch.Tensor, edge_index: Any, edge_weight: torch.Tensor | None = None) -> torch.Tensor:
        if isinstance(edge_index, torch.Tensor) and edge_index.layout == torch.sparse_csr:
            return _SymmetricSpMM.apply(edge_index, x)
        return super().forward(x, edge_index, edge_weight)


def build_model(num_nodes: int, cfg: dict[str, Any]) -> LightGCN:
    """torch-geometric's LightGCN with alpha = 1 (sum of layers) over a pre-normalised adjacency."""
    model = LightGCN(num_nodes, cfg["embedding_dim"], cfg["num_layers"], alpha=1.0, normalize=False)
    model.convs = torch.nn.ModuleList(SymmetricLGConv(normalize=False) for _ in range(cfg["num_layers"]))
    return model


def _edge_keys(users: torch.Tensor, items: torch.Tensor, num_items: int) -> torch.Tensor:
    return users * num_items + items


def sample_negatives(users: torch.Tensor, positive_keys: torch.Tensor, num_items: int,
                     generator: torch.Generator, tries: int = 10, pool: torch.Tensor | None = None) -> torch.Tensor:
    """One uniformly sampled item per user that the user has not interacted with (in training), from
    ``pool`` (item ids) or from all items."""
    def draw(count: int) -> torch.Tensor:
        if pool is None:
            return torch.randint(num_items, (count,), generator=generator)
        return pool[torch.randint(len(pool), (count,), generator=generator)]

    negatives = draw(len(users))
    for _ in range(tries):
        keys = _edge_keys(users, negatives, num_items)
        position = torch.searchsorted(positive_keys, keys).clamp(max=len(positive_keys) - 1)
        clash = positive_keys[position] == keys
        if not clash.any():
            break
        negatives[clash] = draw(int(clash.sum()))
    return negatives


def ranking_quality(user: torch.Tensor, item: torch.Tensor, train_edges: np.ndarray, eval_edges: np.ndarray,
                    k: int = 20, chunk: int = 2048, protocol: str = "per-user-masked") -> dict[str, float]:
    """Recall@k and NDCG@k of ``eval_edges``: ``per-user-masked`` averages over their users with the
    training items excluded from the ranking; ``per-interaction`` (XRec's utils/metrics.py) ranks all
    items and weights each user by the number of their evaluation interactions."""
    mask_train = protocol == "per-user-masked"
    if eval_edges is None or len(eval_edges) == 0:
        return {f"recall@{k}": float("nan"), f"ndcg@{k}": float("nan"), "users": 0}
    eval_edges = np.asarray(eval_edges, dtype=np.int64)
    train_edges = np.asarray(train_edges, dtype=np.int64)
    eval_users = np.unique(eval_edges[:, 0])
    num_items = item.shape[0]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs, weights = [], [], []
    train_sorted = train_edges[np.argsort(train_edges[:, 0], kind="stable")]
    eval_sorted = eval_edges[np.argsort(eval_edges[:, 0], kind="stable")]
    with torch.no_grad():
        for start in range(0, len(eval_users), chunk):
            batch = eval_users[start:start + chunk]
            scores = user[torch.from_numpy(batch)] @ item.T
            row_of = {u: r for r, u in enumerate(batch)}
            lo, hi = np.searchsorted(train_sorted[:, 0], [batch[0], batch[-1] + 1])
            seen = train_sorted[lo:hi]
            seen = seen[np.isin(seen[:, 0], batch)]
            if len(seen) and mask_train:
                rows = torch.tensor([row_of[u] for u in seen[:, 0]])
                scores[rows, torch.from_numpy(seen[:, 1])] = -math.inf
            top = torch.topk(scores, min(k, num_items), dim=1).indices.numpy()
            lo, hi = np.searchsorted(eval_sorted[:, 0], [batch[0], batch[-1] + 1])
            truth = eval_sorted[lo:hi]
            split = np.split(truth[:, 1], np.flatnonzero(np.diff(truth[:, 0])) + 1)
            owners = truth[np.r_[0, np.flatnonzero(np.diff(truth[:, 0])) + 1], 0]
            for owner, relevant in zip(owners, split):
                if owner not in row_of:
                    continue
                hits = np.isin(top[row_of[owner]], relevant).astype(float)
                recalls.append(hits.sum() / len(relevant))
                ideal = discounts[:min(len(relevant), k)].sum()
                ndcgs.append((hits * discounts[:len(hits)]).sum() / ideal)
                weights.append(1 if mask_train else len(relevant))
    return {f"recall@{k}": float(np.average(recalls, weights=weights)),
            f"ndcg@{k}": float(np.average(ndcgs, weights=weights)), "users": len(recalls)}


def initialise(model: LightGCN, num_users: int, init: str) -> None:
    """Layer-0 embeddings: torch-geometric's one Xavier table over all nodes (as built), or XRec's two
    tables, users and items each with the Xavier bound of its own shape."""
    if init == "two-tables":
        with torch.no_grad():
            torch.nn.init.xavier_uniform_(model.embedding.weight[:num_users])
            torch.nn.init.xavier_uniform_(model.embedding.weight[num_users:])


def bpr_loss(propagated: torch.Tensor, base: torch.Tensor, nodes: tuple[torch.Tensor, ...],
             cfg: dict[str, Any]) -> torch.Tensor:
    """BPR over (user, positive, negative) node ids plus ``weight_decay`` x the L2 term of
    ``cfg["regularization"]`` (see LIGHTGCN_PROTOCOL)."""
    eu, ep, en = (propagated[ids] for ids in nodes)
    bpr = -torch.nn.functional.logsigmoid((eu * ep).sum(-1) - (eu * en).sum(-1)).mean()
    if cfg["regularization"] == "propagated-sum":
        reg = eu.pow(2).sum() + ep.pow(2).sum() + en.pow(2).sum()
    else:
        reg = sum(base[ids].pow(2).sum() for ids in nodes) / (2 * len(nodes[0]))
    return bpr + cfg["weight_decay"] * reg


@contextmanager
def deterministic_kernels() -> Iterator[None]:
    """Torch's deterministic algorithms for the block, then the caller's setting again."""
    enabled, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def train_lightgcn(graph: InteractionGraph, cfg: dict[str, Any], seed: int,
                   progress: Callable[..., Iterable] = lambda it, **_: it) -> GraphEmbeddings:
    """BPR training with early stopping on validation Recall@k; keeps the best epoch's embeddings.

    Runs under deterministic kernels: on CPU the backward of ``propagated[ids]`` (an accumulating
    index_put) otherwise sums repeated ids with atomic adds in thread order, and the same seed gave
    different embeddings run to run with more than one thread. Measured on yelp-mini: no slower.
    """
    with deterministic_kernels():
        return _train_lightgcn(graph, cfg, seed, progress)


def _train_lightgcn(graph: InteractionGraph, cfg: dict[str, Any], seed: int,
                    progress: Callable[..., Iterable]) -> GraphEmbeddings:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    nu, ni = graph.num_users, graph.num_items
    edges = np.unique(np.asarray(graph.train_edges, dtype=np.int64), axis=0)
    adjacency = normalized_adjacency(nu, ni, edges)
    model = build_model(nu + ni, cfg)
    initialise(model, nu, cfg["init"])
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    users_all, items_all = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])
    positive_keys = _edge_keys(users_all, items_all, ni).sort().values
    k, patience, batch_size = cfg["eval_k"], cfg["patience"], cfg["batch_size"]
    has_valid = graph.valid_edges is not None and len(graph.valid_edges) > 0
    fixed_negatives = None
    if cfg["negatives"] == "fixed":
        fixed_negatives = sample_negatives(users_all, positive_keys, ni, generator,
                                           pool=torch.unique(items_all))
    best, best_score, best_epoch, bad_epochs = None, -1.0, 0, 0
    history = []
    epoch = 0
    for epoch in progress(range(1, cfg["max_epochs"] + 1), total=cfg["max_epochs"], desc="LightGCN"):
        model.train()
        order = torch.randperm(len(edges), generator=generator)
        total, steps = 0.0, 0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            u, p = users_all[index], items_all[index]
            n = fixed_negatives[index] if fixed_negatives is not None else sample_negatives(u, positive_keys, ni,
                                                                                            generator)
            loss = bpr_loss(model.get_embedding(adjacency), model.embedding.weight, (u, p + nu, n + nu), cfg)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            steps += 1
        model.eval()
        with torch.no_grad():
            out = model.get_embedding(adjacency)
        entry = {"epoch": epoch, "train_loss": total / max(steps, 1)}
        if has_valid:
            quality = ranking_quality(out[:nu], out[nu:], edges, graph.valid_edges, k, protocol=cfg["validation"])
            entry[f"valid_recall@{k}"] = quality[f"recall@{k}"]
            score = quality[f"recall@{k}"]
        else:
            score = -entry["train_loss"]
        history.append(entry)
        if score > best_score:
            best, best_score, best_epoch, bad_epochs = out.clone(), score, epoch, 0
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                break
    report = {"epochs": epoch, "best_epoch": best_epoch, "history": history,
              "valid": ranking_quality(best[:nu], best[nu:], edges, graph.valid_edges, k),
              "test": ranking_quality(best[:nu], best[nu:], edges, graph.test_edges, k)}
    return GraphEmbeddings(best[:nu].contiguous(), best[nu:].contiguous(), report)


def graph_hash(graph: InteractionGraph, cfg: dict[str, Any], seed: int) -> str:
    """Content key of a trained tokenizer: the graph arrays, the training config, the seed and ``TRAINER_VERSION``."""
    digest = hashlib.sha256()
    digest.update(f"{graph.num_users},{graph.num_items},{seed},trainer{TRAINER_VERSION}".encode())
    for name in ("train_edges", "valid_edges"):
        array = getattr(graph, name)
        digest.update(name.encode())
        if array is not None:
            digest.update(np.ascontiguousarray(np.asarray(array, dtype=np.int64)).tobytes())
    digest.update(json.dumps({key: cfg[key] for key in GRAPH_KEYS}, sort_keys=True).encode())
    return digest.hexdigest()[:20]


def load_or_train(graph: InteractionGraph, cfg: dict[str, Any], cache_dir: Path, seed: int,
                  progress: Callable[..., Iterable] = lambda it, **_: it) -> GraphEmbeddings:
    """The trained tokenizer from ``cache_dir`` when this graph and config were seen, else train and cache."""
    from safetensors.torch import load_file, save_file

    path = Path(cache_dir) / "lightgcn" / f"{graph_hash(graph, cfg, seed)}.safetensors"
    if path.is_file():
        tensors = load_file(path)
        report = json.loads(path.with_suffix(".json").read_text())
        return GraphEmbeddings(tensors["user"], tensors["item"], {**report, "cache_hit": True})
    result = train_lightgcn(graph, cfg, seed, progress)
    # The report first: a reader that finds the tensors finds their whole report beside them.
    atomic_write_json(path.with_suffix(".json"), result.report)
    with atomic_file(path) as temporary:
        save_file({"user": result.user, "item": result.item}, str(temporary))
    return GraphEmbeddings(result.user, result.item, {**copy.deepcopy(result.report), "cache_hit": False})


def random_embeddings(graph: InteractionGraph, dim: int, seed: int) -> GraphEmbeddings:
    """The ablation without collaborative signal: Xavier-uniform random vectors, one per user and item."""
    generator = torch.Generator().manual_seed(seed)
    bound = math.sqrt(6.0 / (graph.num_users + graph.num_items + dim))
    table = (torch.rand(graph.num_users + graph.num_items, dim, generator=generator) * 2 - 1) * bound
    return GraphEmbeddings(table[:graph.num_users], table[graph.num_users:], {"source": "random"})


def official_embeddings(directory: str | Path) -> GraphEmbeddings:
    """The released ``user_emb.pkl`` / ``item_emb.pkl``: plain ``pickle.dump`` of (CUDA, non-leaf) tensors,
    which ``torch.load(weights_only=True)`` cannot read; loaded by the restricted tensor unpickler."""
    from xrec_bench.data.safe_pickle import load_tensor

    directory = Path(directory)
    tensors = {}
    for name in ("user", "item"):
        tensors[name] = load_tensor(directory / f"{name}_emb.pkl").float()
    return GraphEmbeddings(tensors["user"], tensors["item"], {"source": "official", "directory": str(directory)})
