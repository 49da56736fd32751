import pytest

from gridbrain.processors.site_admission import SiteAdmission, TokenBucket


def test_bucket_starts_full_and_refills_continuously_up_to_its_size() -> None:
    bucket = TokenBucket(per_hour=4)
    assert [bucket.take(0.0) for _ in range(5)] == [True] * 4 + [False]
    assert bucket.take(899.0) is False  # a token takes 15 minutes to grow
    assert bucket.take(900.0) is True
    assert bucket.take(900.0) is False
    # A quiet day refills the bucket to its size, not beyond.
    assert [bucket.take(90_000.0) for _ in range(5)] == [True] * 4 + [False]


def test_bucket_ignores_a_clock_going_back() -> None:
    bucket = TokenBucket(per_hour=1)
    assert bucket.take(3600.0)
    assert not bucket.take(0.0)
    assert not bucket.take(3599.0)  # still measured from 3600
    assert bucket.take(7200.0)


def test_auto_takes_new_sites_within_the_rate_in_sorted_order() -> None:
    admission = SiteAdmission("auto", per_hour=3)
    sites = ["f", "e", "d", "c", "b", "a"]
    decision = admission.decide(sites, registered=(), now_s=0.0)
    assert decision.admitted == {"a", "b", "c"}
    assert sorted(decision.refused) == ["d", "e", "f"]
    assert "limit of 3 new sites per hour" in decision.refused["d"]
    assert "GRIDBRAIN_NEW_SITES_PER_HOUR" in decision.refused["d"]


def test_registered_sites_are_always_taken_and_spend_no_token() -> None:
    admission = SiteAdmission("auto", per_hour=1)
    decision = admission.decide(["pv-1", "pv-2", "new"], registered={"pv-1", "pv-2"}, now_s=0.0)
    assert decision.admitted == {"pv-1", "pv-2", "new"} and not decision.refused
    later = admission.decide(["pv-3", "other"], registered={"pv-3"}, now_s=1.0)
    assert later.admitted == {"pv-3"} and list(later.refused) == ["other"]


def test_registered_policy_refuses_every_unregistered_site() -> None:
    admission = SiteAdmission("registered", per_hour=1000)
    decision = admission.decide(["pv-1", "x1", "x2"], registered={"pv-1"}, now_s=0.0)
    assert decision.admitted == {"pv-1"}
    assert sorted(decision.refused) == ["x1", "x2"]
    assert "not registered" in decision.refused["x1"]
    assert "gridbrain sites load" in decision.refused["x1"]


def test_zero_per_hour_is_unlimited() -> None:
    admission = SiteAdmission("auto", per_hour=0)
    sites = [f"s{i}" for i in range(10_000)]
    assert len(admission.decide(sites, registered=(), now_s=0.0).admitted) == 10_000


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="site policy"):
        SiteAdmission("open", per_hour=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="per_hour"):
        SiteAdmission("auto", per_hour=-1)
