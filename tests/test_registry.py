from visionops.registry import decide_promotion


def test_first_model_becomes_champion():
    assert decide_promotion(0.5, None, 0.01)[0] is True


def test_challenger_needs_champion_plus_margin():
    assert decide_promotion(0.915, 0.91, 0.005)[0] is True
    promoted, reason = decide_promotion(0.914, 0.91, 0.005)
    assert promoted is False and "0.9140 < champion 0.9100" in reason
