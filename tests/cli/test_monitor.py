from gridbrain.cli.monitor import Monitor


def test_catch_up_rate_stops_at_the_first_plateau() -> None:
    monitor = Monitor(sessions=None)  # type: ignore[arg-type]
    samples = [(0.0, 0), (1.0, 100), (2.0, 300), (3.0, 500), (4.0, 500), (5.0, 500), (9.0, 510)]
    monitor._samples.extend(samples)
    assert monitor.catch_up_rate() == (400, 2.0)


def test_no_rate_without_progress() -> None:
    monitor = Monitor(sessions=None)  # type: ignore[arg-type]
    monitor._samples.extend([(0.0, 0), (1.0, 0)])
    assert monitor.catch_up_rate() is None
