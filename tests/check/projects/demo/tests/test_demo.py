import threading

import demo
import pytest


def test_plain():
    assert demo.scaled(2) == 2


def test_local_target():
    def work():  # a local function: spawn and forkserver must pickle it
        pass
    assert demo.run_in_child(work) == 0


def test_runtime_state():
    demo.configure(10)
    try:
        assert demo.scale_all([1, 2]) == [10, 20]
    finally:
        demo.configure(1)


def test_counter_assumes_the_gil():
    assert demo.count_in_threads(4, 1_000_000) == 4_000_000


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_fork_after_thread():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert demo.run_in_child(demo.SETTINGS.copy) == 0
    finally:
        stop.set()
        t.join()
