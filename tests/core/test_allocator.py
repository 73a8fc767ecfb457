"""runtime.allocator: a named choice, applied at the start of a run; its gain measured as a ratio (perf)."""

import subprocess
import sys

import pytest
from xrec_bench.config import resolve
from xrec_bench.errors import UserError

CHURN = """
import sys, time, torch
from xrec_bench.allocator import use_allocator
applied = use_allocator(sys.argv[1])
weight = torch.randn(49155, 576)  # SmolLM2's embedding matrix, as a training step's fresh gradient and cast
def step():
    grad = torch.zeros_like(weight)
    grad += weight.to(torch.bfloat16).float()
step()
start = time.perf_counter()
for _ in range(20):
    step()
print(applied, (time.perf_counter() - start) / 20)
"""


def test_the_allocator_is_a_runtime_choice_kept_out_of_the_run_id():
    from xrec_bench.config import run_id

    system = resolve(method="retrieval", dataset="yelp-mini", assignments=["runtime.allocator=system"])
    retain = resolve(method="retrieval", dataset="yelp-mini")
    assert system["runtime"]["allocator"] == "system" == retain["runtime"]["allocator"]  # the default
    retain = resolve(method="retrieval", dataset="yelp-mini", assignments=["runtime.allocator=retain"])
    assert retain["runtime"]["allocator"] == "retain" and run_id(retain) == run_id(system)
    with pytest.raises(UserError, match=r"^runtime.allocator must be one of retain, system, not 'jemalloc'"):
        resolve(method="retrieval", dataset="yelp-mini", assignments=["runtime.allocator=jemalloc"])


@pytest.mark.perf
def test_retaining_freed_memory_speeds_up_allocation_churn():
    seconds = {}
    for policy in ("system", "retain", "system", "retain"):
        done = subprocess.run([sys.executable, "-c", CHURN, policy], capture_output=True, text=True, check=True)
        applied, step = done.stdout.split()
        seconds.setdefault(policy, []).append(float(step))
        assert applied == str(policy == "retain")
    ratio = min(seconds["system"]) / min(seconds["retain"])
    print(f"\nallocation churn step: system {min(seconds['system']) * 1e3:.1f} ms, "
          f"retain {min(seconds['retain']) * 1e3:.1f} ms, ratio {ratio:.1f}x")
    assert ratio >= 2, f"retaining freed memory gave only {ratio:.1f}x on this machine"
