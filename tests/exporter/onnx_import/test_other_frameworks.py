"""A model from another framework's exporter, converted inside the test: scikit-learn's MLPRegressor through
skl2onnx (default ONNX domain only: Cast, MatMul, Add, Relu, Reshape; a dynamic batch dim). Pipelines whose
converters use the ai.onnx.ml domain (Scaler, ArrayFeatureExtractor of a classifier's label, ZipMap) are refused at
import with the domain and node named."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skl2onnx import to_onnx

import onnx
from onnx_support import check_against_oracles
from pockettorch.exporter.onnx_frontend import export_onnx
from pockettorch.runtime import error_catalogue as errors

X = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
Y = X @ np.arange(6, dtype=np.float32) + np.sin(X[:, 0])


def _fit(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few iterations are enough here
        return model.fit(X, Y if isinstance(model, MLPRegressor) else (Y > 0).astype(int))


@pytest.fixture(scope="module")
def regressor_file(tmp_path_factory):
    model = _fit(MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=30, random_state=0))
    path = tmp_path_factory.mktemp("skl") / "mlp_regressor.onnx"
    onnx.save(to_onnx(model, X[:1], target_opset=17), str(path))
    return model, path


def test_sklearn_mlp_regressor_dynamic_batch(regressor_file):
    model, path = regressor_file
    program = None
    for batch in (3, 8):
        feeds = [X[:batch]]
        program = check_against_oracles(path, feeds, dynamic_shapes={"X": {0: (1, 8)}})
    assert program.metadata["symbols"] == [{"name": "X_0", "min": 1, "max": 8}]  # an unnamed dim: input_dim
    assert program.metadata["source"]["producer"].startswith("skl2onnx")


def test_sklearn_prediction_matches(regressor_file):
    from onnx_support import run_imported
    model, path = regressor_file
    (got,), _ = run_imported(path, [X[:5]], example_inputs=(X[:5],))
    np.testing.assert_allclose(got.reshape(-1), model.predict(X[:5]), rtol=1e-4, atol=1e-4)


def test_dynamic_batch_without_bounds_asks_for_them(regressor_file):
    _, path = regressor_file
    with pytest.raises(errors.DynamicShapeError, match="give its bounds") as info:
        export_onnx(path)
    assert "dynamic_shapes" in info.value.hint


def test_ml_domain_is_refused_clearly(tmp_path):
    model = _fit(make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=30)))
    path = tmp_path / "classifier.onnx"
    onnx.save(to_onnx(model, X[:1], target_opset=17, options={"zipmap": False}), str(path))
    with pytest.raises(errors.UnsupportedOpError, match=r"Scaler.*opset 17.*'ai\.onnx\.ml'"):
        export_onnx(path, example_inputs=(X[:2],))
