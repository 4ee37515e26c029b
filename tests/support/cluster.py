"""A child-process script that starts a Dask LocalCluster on loopback (for the remap-dir and
prepare cluster tests): it prints the scheduler address, then waits to be killed."""

CLUSTER = """
import sys
from distributed import LocalCluster

if __name__ == "__main__":
    cluster = LocalCluster(host="127.0.0.1", scheduler_port=0, n_workers=2, threads_per_worker=1,
                           processes=True, dashboard_address=None)
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()  # until the test closes our stdin
    cluster.close(timeout=30)
"""
