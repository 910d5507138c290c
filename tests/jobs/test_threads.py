import threading
import time
from collections.abc import Callable

from agent.jobs.threads import ThreadJobs


def test_one_feature_at_a_time_and_features_in_parallel() -> None:
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    overall: list[int] = []
    lock = threading.Lock()
    done = threading.Event()
    finished: list[str] = []

    def run(build_id: str, should_stop: Callable[[], bool]) -> None:
        feature = build_id.split("-")[0]
        with lock:
            active[feature] = active.get(feature, 0) + 1
            peak[feature] = max(peak.get(feature, 0), active[feature])
            overall.append(sum(active.values()))
        time.sleep(0.05)
        with lock:
            active[feature] -= 1
            finished.append(build_id)
            if len(finished) == 9:
                done.set()

    jobs = ThreadJobs(run, workers=3)
    jobs.start()
    for number in range(3):
        for feature in ("pets", "toys", "vets"):
            jobs.submit(f"{feature}-{number}", feature)
    assert done.wait(10)
    jobs.shutdown()
    assert peak == {"pets": 1, "toys": 1, "vets": 1}
    assert max(overall) > 1
    assert [b for b in finished if b.startswith("pets")] == ["pets-0", "pets-1", "pets-2"]


def test_cancel_a_queued_and_a_running_build() -> None:
    started = threading.Event()
    stopped: list[str] = []

    def run(build_id: str, should_stop: Callable[[], bool]) -> None:
        started.set()
        deadline = time.monotonic() + 5
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped.append(build_id)

    jobs = ThreadJobs(run, workers=1)
    jobs.start()
    jobs.submit("a", "pets")
    jobs.submit("b", "toys")
    assert started.wait(5)
    assert jobs.cancel("b") is True
    assert jobs.cancel("a") is True
    assert jobs.cancel("unknown") is False
    jobs.shutdown()
    assert stopped == ["a"]


def test_shutdown_asks_running_builds_to_stop() -> None:
    started = threading.Event()

    def run(build_id: str, should_stop: Callable[[], bool]) -> None:
        started.set()
        while not should_stop():
            time.sleep(0.01)

    jobs = ThreadJobs(run, workers=2)
    jobs.start()
    jobs.submit("a", "pets")
    assert started.wait(5)
    began = time.monotonic()
    jobs.shutdown()
    assert jobs.stopping and time.monotonic() - began < 5
