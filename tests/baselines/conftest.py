"""The baselines' tests use tiny networks: one intra-op thread keeps them fast on a loaded shared CPU.

(With two threads and a busy machine, small matmuls wait on each other: a 2-second fit took 50.)
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
