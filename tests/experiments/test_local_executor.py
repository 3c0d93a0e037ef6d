"""What each local worker is given before Keras loads: its backend, threads and GPU."""

from experiments.executors import local


def test_workers_take_the_gpus_round_robin_and_share_their_memory():
    gpus = ["0", "1", "2"]
    seen = [local.worker_environment("tensorflow", 4, gpus, i) for i in range(5)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in seen] == ["0", "1", "2", "0", "1"]
    for env in seen:
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert env["KERAS_BACKEND"] == "tensorflow" and env["TF_NUM_INTRAOP_THREADS"] == "4"
    assert "CUDA_VISIBLE_DEVICES" not in local.worker_environment("jax", 1, [], 0)


def test_only_jax_workers_share_a_compilation_cache():
    jax = local.worker_environment("jax", 1, [], 0, jax_cache="/tmp/cache")
    assert jax["KERAS_BACKEND"] == "jax" and jax["JAX_COMPILATION_CACHE_DIR"] == "/tmp/cache"
    tensorflow = local.worker_environment("tensorflow", 1, [], 0, jax_cache="/tmp/cache")
    assert "JAX_COMPILATION_CACHE_DIR" not in tensorflow


def test_visible_gpus_honour_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3")
    assert local.visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")  # "no GPU", as CUDA reads it
    assert local.visible_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: no GPU
    assert local.visible_gpus() == []


def test_the_jax_cache_is_the_configured_folder_and_outlives_the_executor(tmp_path):
    from experiments import config, tracking
    from tests.experiments.runner_helpers import write_tracking_yaml

    settings = tracking.load_tracking_config(write_tracking_yaml(tmp_path))
    assert settings.jax_cache_dir == str(tmp_path / "jax_cache")
    cfg = config.load_config("long_dependency", "smoke", ["backend=jax"])
    executor = local.LocalExecutor(workers=2, config=cfg, tracking=settings)
    try:
        assert executor._jax_cache == settings.jax_cache_dir
    finally:
        executor.shutdown()
    (tmp_path / "jax_cache").mkdir(exist_ok=True)
    (tmp_path / "jax_cache" / "entry").write_text("kept")
    executor = local.LocalExecutor(workers=2, config=cfg, tracking=settings)
    executor.shutdown()
    assert (tmp_path / "jax_cache" / "entry").read_text() == "kept"
