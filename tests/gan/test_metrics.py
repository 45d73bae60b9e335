"""Feature-space metrics of generators, and the evaluation against the real floor."""

import pytest
import torch

from visionops.gan import params as gan_params_module
from visionops.gan.metrics import features_and_logits, frechet_distance, kernel_distance, precision_recall
from visionops.gan.networks import build_generator, gan_spec


def test_frechet_distance_is_zero_for_a_set_against_itself_and_grows_with_noise():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2000, 16, generator=gen, dtype=torch.float64) @ torch.randn(
        16, 16, generator=gen, dtype=torch.float64
    )
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    distances = [
        frechet_distance(feats, feats + s * torch.randn(feats.shape, generator=gen, dtype=torch.float64))
        for s in (0.1, 0.5, 1.0, 2.0)
    ]
    assert distances == sorted(distances) and distances[0] > 0 and distances[-1] > 10 * distances[0]
    assert (
        kernel_distance(feats, feats, subsets=5, subset_size=500)[0]
        < kernel_distance(feats, feats + 2.0, subsets=5, subset_size=500)[0]
    )


def test_precision_and_recall_tell_realism_from_coverage():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 8, generator=gen)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    collapsed = real[:1].repeat(500, 1) + 0.01 * torch.randn(500, 8, generator=gen)  # realistic, no variety
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.05
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)


def test_features_are_the_input_of_the_classifier_s_last_linear_layer():
    from visionops.classifier.networks import build_network

    spec = {
        "network": "resnet",
        "num_classes": 10,
        "in_channels": 1,
        "mean": 0.0,
        "std": 1.0,
        "resnet_widths": [4, 8, 16],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
    }
    net = build_network(spec).eval()
    x = torch.rand(5, 1, 28, 28)
    features, logits = features_and_logits(net, x)
    assert features.shape == (5, 16) and features.dtype == torch.float64
    assert torch.allclose(net.head[-1](features.float()), logits, atol=1e-5)


def test_evaluation_of_a_generator_reports_ratios_against_the_real_floor(tiny_data, gan_params):
    from visionops.classifier.networks import build_network
    from visionops.gan.evaluate import Reference, evaluate_generator, judge_features

    settings = gan_params_module.GANEvaluationParams(samples=60, kid_subsets=3, kid_subset_size=30)
    spec = {
        "network": "lenet5",
        "num_classes": 3,
        "in_channels": 1,
        "mean": 0.3,
        "std": 0.3,
        "resnet_widths": [8, 8, 8],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
    }
    torch.manual_seed(0)
    classifier = build_network(spec).eval()
    data = tiny_data(120)
    test_features, _ = features_and_logits(classifier, data.train_x[:60])
    reference = Reference.of(test_features, data.train_y[:60], 3, settings.knn_k)
    real_features, _ = features_and_logits(classifier, data.train_x[60:])
    floor = judge_features(reference, real_features, data.train_y[60:], settings)
    generator = build_generator(gan_spec(gan_params(True), 3, 1))
    metrics, samples, labels, predicted = evaluate_generator(generator, classifier, reference, floor, settings=settings)
    assert samples.shape == (60, 1, 28, 28) and labels.tolist() == [k % 3 for k in range(60)]
    assert metrics["fd_ratio"] == pytest.approx(metrics["fd"] / floor["fd"])
    assert metrics["fd_ratio"] > 1  # an untrained generator is further from the test set than real images are
    assert metrics["conditional_accuracy"] == pytest.approx(float((predicted == labels).float().mean()))
    assert len(metrics["fd_per_class"]) == 3 and sum(metrics["class_shares"]) == pytest.approx(1.0)


def test_nearest_training_image_finds_a_copied_image(tiny_data):
    from visionops.gan.evaluate import nearest_training_images

    train = tiny_data(200).train_x
    samples = torch.stack([train[17].float() / 255, train[150].float() / 255 + 0.01])
    nearest, distances = nearest_training_images(samples, train, chunk=64)
    assert torch.equal(nearest[0], train[17].float() / 255) and distances[0] == pytest.approx(0.0, abs=1e-5)
    assert torch.equal(nearest[1], train[150].float() / 255)
