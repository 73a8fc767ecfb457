"""LightGCN graph tokenizer: adjacency, sum of layers, ranking metrics, training, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn import LightGCN
from xrec_bench.methods.xrec import LIGHTGCN_PAPER, XRec
from xrec_bench.methods.xrec.graph import (
    bpr_loss,
    build_model,
    initialise,
    load_or_train,
    normalized_adjacency,
    ranking_quality,
    sample_negatives,
    train_lightgcn,
)
from xrec_bench.records import InteractionGraph

from tests.xrec.synthetic import make_graph

CPU_PROTOCOL = {key: XRec.profiles["cpu"]["lightgcn"][key]
                for key in ("init", "regularization", "negatives", "validation")}
CFG = {**LIGHTGCN_PAPER, **CPU_PROTOCOL, "embedding_dim": 8, "lr": 0.05, "batch_size": 16, "max_epochs": 6,
       "patience": 2, "eval_k": 3}


def test_normalized_adjacency_hand_computed():
    # users 0,1; items 0,1 (nodes 2,3). Edges u0-i0, u0-i1, u1-i1 (a duplicate is ignored).
    adj = normalized_adjacency(2, 2, np.array([[0, 0], [0, 1], [1, 1], [1, 1]])).to_dense()
    d = {0: 2, 1: 1, 2: 1, 3: 2}
    expected = torch.zeros(4, 4)
    for u, i in [(0, 2), (0, 3), (1, 3)]:
        expected[u, i] = expected[i, u] = 1 / np.sqrt(d[u] * d[i])
    torch.testing.assert_close(adj, expected)


def test_sparse_propagation_equals_edge_index_message_passing_and_sums_layers():
    graph = make_graph()
    torch.manual_seed(0)
    model = build_model(graph.num_users + graph.num_items, CFG)
    sparse = model.get_embedding(normalized_adjacency(graph.num_users, graph.num_items, graph.train_edges))
    edges = np.unique(graph.train_edges, axis=0)
    u, i = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1]) + graph.num_users
    edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])])
    reference = LightGCN(graph.num_users + graph.num_items, 8, 4, alpha=1.0)  # normalises edge-wise itself
    reference.embedding.weight.data.copy_(model.embedding.weight.data)
    expected = reference.get_embedding(edge_index)
    torch.testing.assert_close(sparse, expected, atol=1e-5, rtol=1e-5)
    # The symmetric-adjacency backward gives the same gradients as torch-geometric's own.
    weights = torch.randn_like(sparse)
    (sparse * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(model.embedding.weight.grad, reference.embedding.weight.grad, atol=1e-5, rtol=1e-5)
    # alpha = 1: the SUM of layers 0..4, as XRec does (torch-geometric's default would be the mean).
    adj = normalized_adjacency(graph.num_users, graph.num_items, graph.train_edges).to_dense()
    x, total = model.embedding.weight, model.embedding.weight.clone()
    for _ in range(4):
        x = adj @ x
        total = total + x
    torch.testing.assert_close(sparse, total, atol=1e-5, rtol=1e-5)


def test_ranking_quality_hand_computed():
    user = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    item = torch.tensor([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    train = np.array([[0, 0]])  # item 0 excluded for user 0
    held = np.array([[0, 2], [0, 3], [1, 3]])
    q = ranking_quality(user, item, train, held, k=2)
    # user 0 ranks items 1,2 (scores 2,1): hit at rank 2 → recall 1/2, ndcg (1/log2 3) / (1 + 1/log2 3)
    # user 1 ranks item 3 first: recall 1, ndcg 1
    ndcg0 = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert np.isclose(q["recall@2"], (0.5 + 1.0) / 2)
    assert np.isclose(q["ndcg@2"], (ndcg0 + 1.0) / 2)
    assert q["users"] == 2


def test_official_validation_recall_is_per_interaction_and_unmasked():
    user = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    item = torch.tensor([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    held = np.array([[0, 2], [0, 3], [1, 3]])
    q = ranking_quality(user, item, np.array([[0, 0]]), held, k=2, protocol="per-interaction")
    # user 0 ranks items 0,1 (its training item 0 is not masked): no hit, counted for its 2 interactions;
    # user 1 hits item 3: recall 1, counted once
    assert np.isclose(q["recall@2"], (0.0 * 2 + 1.0) / 3)


def test_regularization_official_sum_of_propagated_vs_layer0_mean():
    torch.manual_seed(0)
    propagated, base = torch.randn(6, 3), torch.randn(6, 3)
    nodes = (torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([4, 5]))
    bpr = -torch.nn.functional.logsigmoid((propagated[0:2] * propagated[2:4]).sum(-1)
                                          - (propagated[0:2] * propagated[4:6]).sum(-1)).mean()
    official = bpr_loss(propagated, base, nodes, {"regularization": "propagated-sum", "weight_decay": 0.5})
    torch.testing.assert_close(official, bpr + 0.5 * propagated.pow(2).sum())  # not divided by the batch
    ours = bpr_loss(propagated, base, nodes, {"regularization": "layer0-mean", "weight_decay": 0.5})
    torch.testing.assert_close(ours, bpr + 0.5 * base.pow(2).sum() / 4)


def test_negatives_come_from_the_pool_and_are_never_positives():
    users = torch.tensor([0, 0, 1, 1] * 50)
    positives = torch.tensor([[0, 1], [0, 2], [1, 3]])
    keys = (positives[:, 0] * 10 + positives[:, 1]).sort().values
    drawn = sample_negatives(users, keys, 10, torch.Generator().manual_seed(0), pool=torch.tensor([1, 2, 3, 4]))
    assert set(drawn.tolist()) <= {1, 2, 3, 4}
    assert not any((u == 0 and n in (1, 2)) or (u == 1 and n == 3) for u, n in zip(users.tolist(), drawn.tolist()))


@pytest.mark.parametrize("init", ["two-tables", "one-table"])
def test_initial_tables(init):
    torch.manual_seed(0)
    model = build_model(220, CFG)
    initialise(model, 200, init)
    weight = model.embedding.weight.data
    one_table = np.sqrt(6 / (220 + 8))
    if init == "one-table":
        assert weight.abs().max() <= one_table
    else:  # users within their own bound, the 20 items spread far wider than one table allows
        assert weight[:200].abs().max() <= np.sqrt(6 / (200 + 8)) and weight[200:].abs().max() > one_table
        assert weight[200:].abs().max() <= np.sqrt(6 / (20 + 8))


@pytest.mark.parametrize("protocol", ["cpu", "official"])
def test_training_beats_random_and_is_cached(tmp_path, protocol):
    rng = np.random.default_rng(0)
    # Two communities: users 0-19 like items 0-9, users 20-39 like items 10-19.
    edges = [(u, (u // 20) * 10 + i) for u in range(40) for i in rng.choice(10, 6, replace=False)]
    edges = np.array(edges)
    rng.shuffle(edges)
    graph = InteractionGraph(40, 20, edges[:180], edges[180:210], edges[210:])
    cfg = CFG if protocol == "cpu" else {**CFG, **{key: LIGHTGCN_PAPER[key] for key in CPU_PROTOCOL}}
    first = load_or_train(graph, cfg, tmp_path, seed=0)
    assert first.user.shape == (40, 8) and first.item.shape == (20, 8)
    assert first.report["cache_hit"] is False
    assert 1 <= first.report["best_epoch"] <= first.report["epochs"] <= CFG["max_epochs"]
    # random ranking of 10 unseen-by-train items in k=3 gives recall around 0.15-0.3; the communities give more
    # (XRec's unmasked validation recall, dominated by training items, already peaks after epoch 1 here)
    assert first.report["test"]["recall@3"] > (0.4 if protocol == "cpu" else 0.3)
    second = load_or_train(graph, cfg, tmp_path, seed=0)
    assert second.report["cache_hit"] is True
    torch.testing.assert_close(first.user, second.user)
    third = load_or_train(graph, {**cfg, "lr": 0.01}, tmp_path, seed=0)
    assert third.report["cache_hit"] is False


def test_training_is_bit_identical_run_to_run_with_two_threads():
    # Regression: the backward of the batch's embedding gathers summed repeated ids with parallel atomic
    # adds, so the same seed gave different embeddings on every run once a batch was large enough to be
    # split over threads (three runs here gave three different tables).
    rng = np.random.default_rng(0)
    edges = np.unique(np.stack([rng.integers(0, 2000, 30000), rng.integers(0, 1500, 30000)], 1), axis=0)
    rng.shuffle(edges)
    graph = InteractionGraph(2000, 1500, edges[:-2000], edges[-2000:-1000], edges[-1000:])
    cfg = {**LIGHTGCN_PAPER, **XRec.profiles["cpu"]["lightgcn"], "max_epochs": 2}
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        tables = [train_lightgcn(graph, cfg, seed=0) for _ in range(3)]
    finally:
        torch.set_num_threads(threads)
    for other in tables[1:]:
        assert torch.equal(tables[0].user, other.user) and torch.equal(tables[0].item, other.item)
    assert not torch.are_deterministic_algorithms_enabled()  # the caller's setting is restored
