"""VQA networks: a question LSTM, and three ways to join it with the image.

- blind: the question alone (the measure of what language bias gives);
- cnn_lstm: the image trunk's grid, flattened and projected, concatenated with the question (Agrawal et al. 2015);
- film: the question predicts a per-channel scale and shift for each residual block over the trunk's grid, with
  coordinate maps beside every convolution's input (Perez et al. 2018).

Every network is `trunk` (None for the blind one) then `head(features, tokens) -> answer logits`, so training on
features computed once by a frozen trunk and serving from pixels run the same head. In training a batch holds a few
scenes and every question asked of them: `head(features, tokens, scene_of)` then runs its question-independent layers
once per scene and takes each question's scene after them: what running them per question gives, up to rounding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from visionops.vqa.encoding import PAD  # questions are padded at the end


class QuestionEncoder(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, T] -> the LSTM's output at each question's last word [B, H]."""
        out, _ = self.lstm(self.embed(tokens))
        last = ((tokens != PAD).sum(1).clamp(min=1) - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])
        return out.gather(1, last)[:, 0]


def coordinates(x: torch.Tensor) -> torch.Tensor:
    """x [B, C, H, W] with two more channels: each cell's row and column, from -1 to 1."""
    h, w = x.shape[2], x.shape[3]
    rows = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(1, 1, h, w)
    cols = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(1, 1, h, w)
    return torch.cat([x, torch.cat([rows, cols], 1).expand(x.shape[0], -1, -1, -1)], 1)


def scene_batch_norm(norm: nn.BatchNorm2d, x: torch.Tensor, questions: torch.Tensor | None) -> torch.Tensor:
    """`norm(x)`, where x [S, C, H, W] holds scenes and `questions` [S] (when given, in training) how many questions
    ask about each: the output, its gradients and the running statistics are those of `norm` over x's rows
    repeated once per question, without the repeated tensor."""
    if questions is None or not norm.training:
        return norm(x)
    weight = questions.to(torch.float32).view(-1, 1, 1, 1)
    values = x.float()
    n = questions.sum() * x.shape[2] * x.shape[3]
    mean = (values * weight).sum((0, 2, 3)) / n
    var = ((values - mean.view(1, -1, 1, 1)).square() * weight).sum((0, 2, 3)) / n
    if norm.track_running_stats:
        with torch.no_grad():
            norm.num_batches_tracked += 1
            momentum = norm.momentum if norm.momentum is not None else 1.0 / float(norm.num_batches_tracked)
            norm.running_mean.lerp_(mean, momentum)
            norm.running_var.lerp_(var * n / (n - 1), momentum)
    y = (values - mean.view(1, -1, 1, 1)) * torch.rsqrt(var + norm.eps).view(1, -1, 1, 1)
    if norm.affine:
        y = y * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)
    return y.to(x.dtype)


def _answer_mlp(in_dim: int, hidden: int, answers: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, answers))


class BlindHead(nn.Module):
    def __init__(self, *, vocab_size: int, answers: int, embed_dim: int, hidden_dim: int, **_: Any) -> None:
        super().__init__()
        self.question = QuestionEncoder(vocab_size, embed_dim, hidden_dim)
        self.answer = _answer_mlp(hidden_dim, hidden_dim, answers)

    def forward(
        self, features: torch.Tensor | None, tokens: torch.Tensor, scene_of: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.answer(self.question(tokens))


class CNNLSTMHead(nn.Module):
    def __init__(
        self, *, vocab_size: int, answers: int, embed_dim: int, hidden_dim: int, feature_dim: int, grid: int, **_: Any
    ) -> None:
        super().__init__()
        self.question = QuestionEncoder(vocab_size, embed_dim, hidden_dim)
        # a linear map of the whole grid, not a mean over it: where things are is half of what is asked
        self.image = nn.Sequential(
            nn.Flatten(), nn.Linear(feature_dim * grid * grid, hidden_dim), nn.ReLU(inplace=True)
        )
        self.answer = _answer_mlp(2 * hidden_dim, hidden_dim, answers)

    def forward(
        self, features: torch.Tensor | None, tokens: torch.Tensor, scene_of: torch.Tensor | None = None
    ) -> torch.Tensor:
        image = self.image(features)
        if scene_of is not None:  # in fp32, as FiLMBlock does
            image = image.float()[scene_of]
        return self.answer(torch.cat([image, self.question(tokens)], 1))


class FiLMBlock(nn.Module):
    """1x1 conv, then 3x3 conv, batch norm without its own affine, FiLM, ReLU, and the residual (Perez et al.)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(channels + 2, channels, 1), nn.ReLU(inplace=True))
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels, affine=False)

    def forward(
        self,
        x: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        *,
        scene_of: torch.Tensor | None = None,
        questions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`scene_of` given: x holds scenes, `questions` how many questions ask about each, gamma and beta one row
        per question; the convolutions run per scene and the normalization takes the questions' statistics."""
        residual = self.project(coordinates(x))
        y = scene_batch_norm(self.norm, self.conv(residual), questions)
        if scene_of is not None:  # in fp32: the gradients of a scene's questions then add up in fp32, even in bf16
            residual, y = residual.float()[scene_of], y.float()[scene_of]
        return residual + torch.relu((1.0 + gamma[:, :, None, None]) * y + beta[:, :, None, None])


class FiLMHead(nn.Module):
    def __init__(
        self,
        *,
        vocab_size: int,
        answers: int,
        embed_dim: int,
        hidden_dim: int,
        feature_dim: int,
        film_channels: int,
        film_blocks: int,
        film_pool: bool = False,
        **_: Any,
    ) -> None:
        super().__init__()
        c = film_channels
        # 2x2 average pooling of the trunk's grid first (7x7 -> 4x4): about half the cost of a step
        self.pool = nn.AvgPool2d(2, ceil_mode=True) if film_pool else nn.Identity()
        self.question = QuestionEncoder(vocab_size, embed_dim, hidden_dim)
        self.film = nn.Linear(hidden_dim, 2 * c * film_blocks)
        self.stem = nn.Sequential(nn.Conv2d(feature_dim + 2, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(FiLMBlock(c) for _ in range(film_blocks))
        self.classify = nn.Sequential(nn.Conv2d(c + 2, 4 * c, 1), nn.BatchNorm2d(4 * c), nn.ReLU(inplace=True))
        self.answer = _answer_mlp(4 * c, hidden_dim, answers)

    def forward(
        self, features: torch.Tensor | None, tokens: torch.Tensor, scene_of: torch.Tensor | None = None
    ) -> torch.Tensor:
        conv, norm, _ = self.stem
        params = self.film(self.question(tokens)).reshape(-1, len(self.blocks), 2, conv.out_channels)
        # up to the first block's FiLM nothing depends on the question: with scene_of, that part runs once per scene
        # (a third of the head's work; the questions of a batch ask ~6 each about its scenes)
        questions = None if scene_of is None else torch.bincount(scene_of, minlength=features.shape[0])
        x = torch.relu(scene_batch_norm(norm, conv(coordinates(self.pool(features))), questions))
        for i, block in enumerate(self.blocks):
            first = i == 0
            x = block(
                x,
                params[:, i, 0],
                params[:, i, 1],
                scene_of=scene_of if first else None,
                questions=questions if first else None,
            )
        pooled = self.classify(coordinates(x)).amax(dim=(2, 3))
        return self.answer(pooled)


HEADS = {"blind": BlindHead, "cnn_lstm": CNNLSTMHead, "film": FiLMHead}


class VQANet(nn.Module):
    """pixels [B, C, H, W] in [0, 1] (ignored by the blind one) and token ids [B, T] -> answer logits [B, A]."""

    def __init__(self, trunk: nn.Module | None, head: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = head

    def forward(self, images: torch.Tensor | None, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(images) if self.trunk is not None else None, tokens)


def build_head(spec: dict[str, Any]) -> nn.Module:
    return HEADS[spec["model"]](
        vocab_size=len(spec["vocab"]),
        answers=len(spec["answers"]),
        embed_dim=spec["embed_dim"],
        hidden_dim=spec["hidden_dim"],
        feature_dim=spec["feature_dim"],
        grid=spec["grid"],
        film_channels=spec["film_channels"],
        film_blocks=spec["film_blocks"],
        film_pool=spec.get("film_pool", False),
    )


def build_trunk(spec: dict[str, Any]) -> nn.Module | None:
    from visionops.classifier.trunk import classifier_trunk, scratch_trunk

    if spec["model"] == "blind":
        return None
    if spec["encoder"] == "scratch":
        return scratch_trunk(spec["image_shape"][0], spec["mean"], spec["std"], spec["scratch_width"])
    from visionops.classifier.networks import build_network

    return classifier_trunk(build_network(spec["classifier_spec"]))


def build_vqa(spec: dict[str, Any]) -> VQANet:
    """Build from the spec saved with the weights (the trunk's weights are part of the state dict)."""
    return VQANet(build_trunk(spec), build_head(spec))
