"""Strategy resolution and the shared training loop."""
import json
import os
import socket
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import training
from helpers import ROOT

# The same 3 training steps of the tiny classifier (no dropout) under a given strategy.
# Printed as one JSON line: {"losses": [...], "weights": {name: sum of |w|}} plus extras.
_SETUP = """
import json, os, sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, os.environ["ROOT"])
from bert_tf import checkpoints, modeling, optimization, training
from bert_tf.configuration import BertConfig
tiny = os.path.join(os.environ["ROOT"], "tests", "fixtures", "tiny_uncased")
fx = os.path.join(os.environ["ROOT"], "tests", "fixtures")
batch = json.load(open(os.path.join(fx, "optimizer_steps", "optimizer_steps.json")))["batch"]
feats = {k: np.array(batch[k], np.int32) for k in ("input_ids", "input_mask", "segment_ids")}
feats["label_ids"] = np.array(batch["label_ids"], np.int32)
# 8 distinct examples per global batch: the 4 fixture rows and 4 with a shifted label
feats = {k: np.concatenate([v, v]) for k, v in feats.items()}
feats["label_ids"][4:] = 1 - feats["label_ids"][4:]
head = np.load(os.path.join(fx, "classifier_head.npz"))

def run(strategy, accumulation=1, batch_size=8, out_name=None, use_xla=False):
  with strategy.scope():
    cfg = BertConfig.from_json_file(os.path.join(tiny, "bert_config.json"))
    model = modeling.BertClassifier(cfg, 2)
    model.build()
    opt = optimization.create_optimizer("adamw", 1e-3, 10, 2)
  checkpoints.init_from_checkpoint(model.original_variables(),
                                   os.path.join(tiny, "bert_model.ckpt"), log=False)
  model.head.output_weights.assign(head["output_weights"])
  model.head.output_bias.assign(head["output_bias"])
  def loss_fn(f, training):  # no dropout: the runs must be comparable
    return modeling.classifier_outputs(model(f, training=False), f["label_ids"], 2)["loss"]
  ds = tf.data.Dataset.from_tensor_slices(feats).repeat().batch(batch_size, drop_remainder=True)
  out_dir = os.path.join(os.environ["OUT"], out_name or
                         strategy.__class__.__name__ + str(accumulation))
  trainer = training.Trainer(strategy, model, model.original_variables(), opt, loss_fn,
                             out_dir, save_checkpoints_steps=0,
                             gradient_accumulation_steps=accumulation, summaries=False,
                             use_xla=use_xla)
  with strategy.scope():
    opt.build({n: v for n, v in model.original_variables().items()})
  fn = trainer._build_train_fn()
  it = iter(training.distribute_dataset(strategy, ds))
  losses, _ = fn(it, tf.constant(3))
  weights = {n: v.numpy() for n, v in model.original_variables().items()}
  return losses.numpy(), weights
"""

MIRRORED_SCRIPT = """
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
single = run(tf.distribute.get_strategy())
mirrored = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
accumulated = run(tf.distribute.get_strategy(), accumulation=2, batch_size=4)
xla = run(tf.distribute.get_strategy(), out_name="xla", use_xla=True)
def diff(a, b):
  return max(float(np.abs(a[1][n] - b[1][n]).max()) for n in a[1])
np.savez(os.path.join(os.environ["OUT"], "single_weights.npz"), **single[1])
print(json.dumps({"single": single[0].tolist(), "mirrored": mirrored[0].tolist(),
                  "accumulated": accumulated[0].tolist(), "xla": xla[0].tolist(),
                  "weights_xla": diff(single, xla),
                  "weights_mirrored": diff(single, mirrored),
                  "weights_accumulated": diff(single, accumulated)}))
"""

# One worker of a 2-process MultiWorkerMirroredStrategy cluster (TF_CONFIG set by the test):
# the global batch of 8 is split 4 + 4 across the workers.
MULTI_WORKER_SCRIPT = """
strategy = tf.distribute.MultiWorkerMirroredStrategy()
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
losses, weights = run(strategy, out_name="worker%d" % task)
single = np.load(os.path.join(os.environ["OUT"], "single_weights.npz"))
print(json.dumps({"losses": losses.tolist(),
                  "weights_diff": max(float(np.abs(weights[n] - single[n]).max())
                                      for n in weights)}))
"""


@pytest.fixture(scope="module")
def strategy_runs(tmp_path_factory):
  env = dict(os.environ, ROOT=ROOT, OUT=str(tmp_path_factory.mktemp("strat")),
             TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.run([sys.executable, "-c", _SETUP + MIRRORED_SCRIPT], capture_output=True,
                        text=True, env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  out["dir"] = env["OUT"]
  return out


def test_mirrored_on_two_logical_cpus_matches_single_device(strategy_runs):
  np.testing.assert_allclose(strategy_runs["mirrored"], strategy_runs["single"], atol=1e-5)
  assert strategy_runs["weights_mirrored"] < 1e-5
  # the loss moves, so the comparison is not vacuous
  assert abs(strategy_runs["single"][0] - strategy_runs["single"][2]) > 1e-3


def test_gradient_accumulation_equals_one_big_batch(strategy_runs):
  np.testing.assert_allclose(strategy_runs["accumulated"], strategy_runs["single"], atol=1e-5)
  assert strategy_runs["weights_accumulated"] < 1e-5


def test_use_xla_train_steps_equal_the_plain_steps(strategy_runs):
  """--use_xla compiles the replica step with XLA: same losses and weights (float rounding)."""
  np.testing.assert_allclose(strategy_runs["xla"], strategy_runs["single"], atol=1e-5)
  assert strategy_runs["weights_xla"] < 1e-5


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for sock in socks:
    sock.bind(("127.0.0.1", 0))
  ports = [sock.getsockname()[1] for sock in socks]
  for sock in socks:
    sock.close()
  return ports


def test_multi_worker_mirrored_two_processes_match_single_device(strategy_runs):
  """Two worker processes on localhost (TF_CONFIG), one CPU replica each, global batch 8."""
  workers = ["127.0.0.1:%d" % p for p in _free_ports(2)]
  procs = []
  for index in range(2):
    env = dict(os.environ, ROOT=ROOT, OUT=strategy_runs["dir"], TF_CPP_MIN_LOG_LEVEL="3",
               TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                     "task": {"type": "worker", "index": index}}))
    procs.append(subprocess.Popen([sys.executable, "-c", _SETUP + MULTI_WORKER_SCRIPT],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env))
  try:
    outputs = [proc.communicate(timeout=600) for proc in procs]
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
  results = []
  for proc, (out, err) in zip(procs, outputs):
    assert proc.returncode == 0, err[-3000:]
    results.append(json.loads(out.strip().splitlines()[-1]))
  for r in results:
    np.testing.assert_allclose(r["losses"], strategy_runs["single"], atol=1e-5)
    assert r["weights_diff"] < 1e-5


def test_tpu_path_uses_resolver_and_core_count():
  resolver = mock.MagicMock(name="resolver")
  topology = mock.MagicMock(num_tasks=1, num_tpus_per_task=8)
  with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver",
                         return_value=resolver) as res_cls, \
      mock.patch.object(tf.config, "experimental_connect_to_cluster") as connect, \
      mock.patch.object(tf.tpu.experimental, "initialize_tpu_system",
                        return_value=topology) as init, \
      mock.patch.object(tf.tpu.experimental.DeviceAssignment, "build",
                        return_value="assignment") as build, \
      mock.patch.object(tf.distribute, "TPUStrategy", return_value="tpu-strategy") as strat:
    s = training.resolve_strategy(use_tpu=True, tpu_name="my-tpu", tpu_zone="us-central1-b",
                                  gcp_project="proj", num_tpu_cores=4)
    assert s == "tpu-strategy"
    res_cls.assert_called_once_with(tpu="my-tpu", zone="us-central1-b", project="proj")
    connect.assert_called_once_with(resolver)
    init.assert_called_once_with(resolver)
    build.assert_called_once_with(topology, num_replicas=4)
    strat.assert_called_once_with(resolver, experimental_device_assignment="assignment")
    # all 8 cores: no device assignment; --master is used when --tpu_name is absent
    build.reset_mock()
    training.resolve_strategy(use_tpu=True, master="grpc://10.0.0.2:8470", num_tpu_cores=8)
    assert res_cls.call_args.kwargs["tpu"] == "grpc://10.0.0.2:8470"
    build.assert_not_called()


def test_auto_strategy_reads_tf_config(monkeypatch):
  monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                              "task": {"type": "worker", "index": 0}}))
  with mock.patch.object(tf.distribute, "MultiWorkerMirroredStrategy",
                         return_value="mwms") as mwms:
    assert training.resolve_strategy() == "mwms"
    mwms.assert_called_once_with()
  monkeypatch.delenv("TF_CONFIG")
  assert training.resolve_strategy() is tf.distribute.get_strategy()
  with pytest.raises(ValueError, match="unknown --distribution"):
    training.resolve_strategy(distribution="bogus")


def test_eval_results_format(tmp_path):
  path = str(tmp_path / "eval_results.txt")
  training.write_key_values(path, {"loss": np.float32(0.50524807), "global_step": np.int64(343),
                                   "eval_accuracy": np.float32(0.8455882)})
  assert open(path).read() == "eval_accuracy = 0.8455882\nglobal_step = 343\nloss = 0.50524807\n"


def test_format_duration():
  assert training.format_duration(3725) == "1h02m05s"
  assert training.format_duration(65) == "1m05s"
  assert training.format_duration(5) == "5s"


_PRINT_ONEDNN = ("import os, tensorflow\n"
                 "from tensorflow.python.util import _pywrap_util_port\n"
                 "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], _pywrap_util_port.IsMklEnabled())\n")


@pytest.mark.parametrize("start", ["configure_process", "runner", "import"])
@pytest.mark.parametrize("setting, expected", [(None, "1 True"), ("0", "0 False")])
def test_process_start_turns_on_onednn_kernels_unless_the_environment_says_otherwise(
    start, setting, expected):
  """The runner every script goes through (cli.run), and runtime.configure_process() called
  before TensorFlow, set TF_ENABLE_ONEDNN_OPTS=1 (TensorFlow's own default is off on CPUs
  without AVX-512 VNNI/AMX, where its batched matmuls then run on one core); an explicit
  value in the environment is kept.  Importing bert_tf sets nothing."""
  env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
  if setting is not None:
    env["TF_ENABLE_ONEDNN_OPTS"] = setting
  if start == "configure_process":
    code = "from bert_tf import runtime\nruntime.configure_process()\n" + _PRINT_ONEDNN
  elif start == "runner":
    code = ("from bert_tf import cli\n"
            "def main(argv):\n" + "".join("  " + l + "\n" for l in _PRINT_ONEDNN.splitlines()) +
            "cli.run(main)\n")
  else:
    code = ("import os, bert_tf, bert_tf.cli, bert_tf.runtime, bert_tf.training\n"
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))\n")
    expected = setting or "None"
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                        cwd=ROOT, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip().splitlines()[-1] == expected
