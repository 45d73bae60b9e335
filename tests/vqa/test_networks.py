import copy

import pytest
import torch

from visionops.vqa.networks import CNNLSTMHead, FiLMHead


def _heads():
    common = {"vocab_size": 12, "answers": 7, "embed_dim": 8, "hidden_dim": 16, "feature_dim": 6}
    return [
        FiLMHead(**common, film_channels=8, film_blocks=2, film_pool=True),
        CNNLSTMHead(**common, grid=5),
    ]


@pytest.mark.parametrize("head", _heads(), ids=["film", "cnn_lstm"])
def test_a_head_given_each_questions_scene_trains_as_on_the_scenes_repeated_per_question(head):
    """Training batches hold scenes and the questions asked of them: the question-independent layers run once per
    scene. Logits, gradients and batch-norm running statistics must be what the same head gives on the features
    repeated once per question."""
    torch.manual_seed(0)
    features = torch.randn(5, 6, 5, 5)
    scene_of = torch.tensor([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4])  # uneven: the statistics must weigh each scene
    tokens = torch.randint(1, 12, (len(scene_of), 6))
    per_question, per_scene = copy.deepcopy(head).train(), copy.deepcopy(head).train()

    expected = per_question(features[scene_of], tokens)
    got = per_scene(features, tokens, scene_of)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    expected.square().sum().backward()
    got.square().sum().backward()
    for (name, a), b in zip(per_question.named_parameters(), per_scene.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5, msg=name)
    for (name, a), b in zip(per_question.named_buffers(), per_scene.buffers(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)

    per_question.eval(), per_scene.eval()
    torch.testing.assert_close(per_scene(features, tokens, scene_of), per_question(features[scene_of], tokens))
