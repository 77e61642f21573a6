"""dask.distributed for real: worker processes, a client made here and shipped to them.

Each job runs in a worker process (spawned: the client arrives pickled) against the
emulator in this process; every job must succeed, and the emulator must have seen
exactly one submission per job.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from speedpix.testing import Emulator

from ._jobs import prompt, run_job_in

distributed = pytest.importorskip("distributed")  # a dev dependency: present in the suite

JOBS = 20


def test_jobs_through_a_local_cluster_of_worker_processes(emu: Emulator) -> None:
    client = emu.client()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask,
    ):
        shipped = dask.scatter(client, broadcast=True)  # pickled once, to every worker
        futures = dask.map(run_job_in, [shipped] * JOBS, range(JOBS), pure=False)
        ran = dask.gather(futures)
        worker_pids = set(dask.run(os.getpid).values())
    assert os.getpid() not in worker_pids and len(worker_pids) == 2
    assert {pid for pid, _ in ran} <= worker_pids
    results = [result for _, result in ran]
    assert [text for _, text, _ in results] == [prompt(i) for i in range(JOBS)]
    assert len({task for _, _, task in results}) == JOBS
    assert Counter(task.inputs["prompt"] for task in emu.tasks) == Counter(prompt(i) for i in range(JOBS))
    assert emu.stats.tasks_created == JOBS
