"""PyTorch nn.RNN as a benchmark peer, run in its own process.

TensorFlow's and PyTorch's thread pools in one process get in each other's
way (PyTorch's OpenMP workers wait on threads that TensorFlow keeps busy), so
the peer lives in a child process that imports only PyTorch and NumPy. The
parent drives it step by step, so the alternation of the candidates is kept,
and the child times its own calls (no inter-process overhead in the figures).
"""

import multiprocessing
import time


def torch_available():
    """Whether PyTorch imports in a child process (without importing it here)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _build_model(size, weights, device):
    """nn.RNN and a Linear head on `device`, holding the Keras model's `weights`."""
    import torch

    rnn = torch.nn.RNN(
        size["features"], size["units"], num_layers=size["layers"], batch_first=True
    ).to(device)
    head = torch.nn.Linear(size["units"], 1).to(device)
    with torch.no_grad():
        # Keras order per layer: kernel (D, H), recurrent_kernel (H, H), bias; then Dense.
        for layer in range(size["layers"]):
            kernel, recurrent, bias = weights[3 * layer : 3 * layer + 3]
            getattr(rnn, f"weight_ih_l{layer}").copy_(torch.as_tensor(kernel.T))
            getattr(rnn, f"weight_hh_l{layer}").copy_(torch.as_tensor(recurrent.T))
            getattr(rnn, f"bias_ih_l{layer}").copy_(torch.as_tensor(bias))
            getattr(rnn, f"bias_hh_l{layer}").zero_()
        head.weight.copy_(torch.as_tensor(weights[-2].T))
        head.bias.copy_(torch.as_tensor(weights[-1]))
    return rnn, head


def _step_functions(rnn, head, x, y, device):
    """The timed calls by command name: `train_step` (one Adam step) and `inference`."""
    import torch

    optimizer = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-4)
    x = torch.as_tensor(x, device=device)
    y = torch.as_tensor(y, device=device)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        outputs, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(outputs[:, -1]), y)
        loss.backward()
        optimizer.step()

    def inference():
        with torch.no_grad():
            outputs, _ = rnn(x)
            return head(outputs[:, -1])

    return {"train_step": train_step, "inference": inference}


def _describe(device):
    """What the parent records about the peer: versions, threads, GPU."""
    import torch

    info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def _synchronizer(device):
    """A function that waits for the work queued on `device` (nothing to wait for on CPU)."""
    import torch

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    return sync


def _serve_commands(connection, functions, sync):
    """Answers the parent until it sends `close`: `output` returns the inference's result,
    any other command runs that function `argument` times and returns (wall, CPU) seconds."""
    while True:
        command, argument = connection.recv()
        if command == "close":
            break
        if command == "output":
            connection.send(functions["inference"]().cpu().numpy())
            continue
        function = functions[command]
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(argument):
            function()
        sync()
        connection.send((time.perf_counter() - start, time.process_time() - start_cpu))


def _serve(connection, size, x, y, weights, device, threads):
    """The child process: builds the peer, says it is ready, then serves the parent's commands."""
    import os

    # OpenMP workers that spin after each call would steal the cores from
    # the Keras candidate timed next; make them sleep instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if threads:
        torch.set_num_threads(threads)
    rnn, head = _build_model(size, weights, device)
    functions = _step_functions(rnn, head, x, y, device)
    connection.send(("ready", _describe(device)))
    _serve_commands(connection, functions, _synchronizer(device))
    connection.close()


class TorchPeer:
    """Candidate protocol: `name`, `timed(method, count) -> seconds`, `close()`."""

    def __init__(self, size, x, y, weights, device="cpu", threads=None):
        self.name = "torch nn.RNN" + (" (cuDNN)" if device == "cuda" else "")
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        size_dict = {"features": size.features, "units": size.units, "layers": size.layers}
        self.process = context.Process(
            target=_serve, args=(child, size_dict, x, y, weights, device, threads), daemon=True
        )
        self.process.start()
        status, self.info = self.connection.recv()
        if status != "ready":
            raise RuntimeError(f"torch peer failed to start: {self.info}")

    def timed(self, method, count):
        self.connection.send((method, count))
        return self.connection.recv()

    def output(self):
        self.connection.send(("output", None))
        return self.connection.recv()

    def close(self):
        if self.process.is_alive():
            self.connection.send(("close", None))
            self.process.join(timeout=30)
