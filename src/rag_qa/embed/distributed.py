"""Embedding with Ray Data, for a corpus that outgrows one machine (``pip install 'rag-qa[ray]'``).

``RayEmbedder`` is an ``Embedder`` whose ``encode`` cuts the texts into groups, lets a pool of
Ray actors embed the groups (``map_batches`` over a callable class: each actor loads the model
once, with the same ``SentenceTransformerEmbedder`` code and precision as a single-process
build) and puts the vectors back in input order by their position column.

With the default options the vectors are bit-identical to a single-process build's on the same
kind of CPU, because an actor repeats exactly what that build computes:

* the same groups: sentence-transformers sorts and pads the texts of one call together, so
  each group is the slice ``run_build`` hands a plain embedder in one call
  (``batch_size * GROUP_BATCHES`` texts, in order);
* the same torch thread count: bf16 matrix products over few rows split their sums by thread,
  so a short batch's vectors move by up to ~1.3e-3 between 1 and 2 threads. Each actor runs as
  many threads as torch uses in this process, and reserves as many CPUs from Ray
  (``plan_actors``; asking for more actors trades this for speed).

Ray is imported only here, inside functions: the rest of rag-qa neither needs it nor waits for
it. Nothing is downloaded: the actors read the model from its installed package or directory,
which must therefore exist on every node of a cluster, like rag-qa itself.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

# GROUP_BATCHES: texts per model call in batches of ``batch_size``, the slice the build
# embeds at once (shared, so that Ray's vectors stay identical to the build's).
from rag_qa.embed.model import GROUP_BATCHES, ModelError, SentenceTransformerEmbedder

# Set in every actor: no hub look-ups, no progress bars, no tokenizer threads.
WORKER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass(frozen=True)
class RayOptions:
    # None: a Ray of its own on this machine, started for the build and stopped after it.
    # "auto" or "host:6379": the cluster this machine belongs to (`ray start`), as its driver.
    address: str | None = None
    actors: int | None = None  # model copies; None: as many as fit (see plan_actors)
    threads: int | None = None  # torch threads (and Ray CPUs) per actor; None: see plan_actors
    group_size: int | None = None  # texts per model call; None: batch_size * GROUP_BATCHES


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra: pyarrow and friends)
    except ImportError as err:
        raise ModelError(
            f"embedding with Ray needs the ray extra ({err}): pip install 'rag-qa[ray]'"
        ) from err
    return ray


class EmbedGroups:
    """A Ray Data actor: loads the model once, then embeds whole groups of texts."""

    def __init__(self, model: str, precision: str, batch_size: int, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.embedder = SentenceTransformerEmbedder(model, precision)
        self.embedder.model  # noqa: B018  (load now, once per actor, not on the first batch)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        positions, vectors = [], []
        for start, texts in zip(batch["start"], batch["texts"], strict=True):
            group = [str(t) for t in texts]
            vectors.append(self.embedder.encode_passages(group, batch_size=self.batch_size))
            positions.append(np.arange(start, start + len(group), dtype=np.int64))
        return {"pos": np.concatenate(positions), "vector": np.vstack(vectors)}


class RayEmbedder:
    bulk = True  # run_build hands over every text to embed in one call

    def __init__(self, model: str, precision: str = "auto", options: RayOptions | None = None):
        import_ray()  # fail before the build parses anything
        address = (options or RayOptions()).address
        if address and address.startswith("ray://"):
            # Ray Data's executor needs a driver inside the cluster; Ray Client has none.
            raise ModelError(
                f"Ray Data cannot run through Ray Client ({address}): run rag-qa index on a node "
                "of the cluster with --ray-address auto, e.g. as a Ray job: ray job submit "
                "--address http://HEAD:8265 -- rag-qa index --ray --ray-address auto"
            )
        # Name, dimension and tokenizer (the build chunks with it); the model stays unloaded here.
        local = SentenceTransformerEmbedder(model, precision)
        self.name = local.name
        self.precision = local.precision  # resolved here, so every actor uses the same
        self.dim = local.dim
        self.max_tokens = local.max_tokens
        self.tokenizer = local.tokenizer
        self.options = options or RayOptions()
        self._started = False

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ray = self._connect()
        ray.data.DataContext.get_current().enable_progress_bars = progress
        logging.getLogger("ray.data").setLevel(logging.INFO if progress else logging.ERROR)
        size = self.options.group_size or max(1, batch_size) * GROUP_BATCHES
        groups = [{"start": s, "texts": texts[s : s + size]} for s in range(0, len(texts), size)]
        node_cpus = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]]
        actors, threads = plan_actors(self.options, _torch_threads(), node_cpus)
        actors = min(actors, len(groups))
        dataset = ray.data.from_items(groups, override_num_blocks=len(groups)).map_batches(
            EmbedGroups,
            fn_constructor_kwargs={
                "model": self.name,
                "precision": self.precision,
                "batch_size": batch_size,
                "threads": threads,
            },
            batch_size=1,  # one group per call: the group, not Ray, decides the model's batches
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=threads,
            runtime_env={"env_vars": WORKER_ENV},
        )
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        seen = np.zeros(len(texts), dtype=np.int64)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                out[batch["pos"]] = batch["vector"]
                np.add.at(seen, batch["pos"], 1)
        except ray.exceptions.RayError as err:  # the actor's own error is the last line
            cause = str(err).strip().splitlines()[-1]
            raise ModelError(f"embedding with Ray failed: {cause}") from err
        if not (seen == 1).all():
            raise ModelError(f"Ray returned {int(seen.sum())} vectors for {len(texts)} texts")
        return out

    def _connect(self):
        ray = import_ray()
        if ray.is_initialized():
            return ray
        address = self.options.address
        kwargs = {"log_to_driver": False, "logging_level": logging.ERROR}
        if address is None:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local Ray reports nowhere
            kwargs["include_dashboard"] = False
        try:
            # "local": always a new Ray; never a dead cluster's leftover address file.
            ray.init(address=address or "local", **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ModelError(
                f"cannot start or reach Ray at {address or 'this machine'} ({err}); check "
                "--ray-address, or start the cluster there with `ray start --head`"
            ) from err
        self._started = True
        return ray

    def close(self) -> None:
        """Shut down the Ray this embedder started (or leave the cluster it joined)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def plan_actors(options: RayOptions, torch_threads: int, node_cpus: list[int]) -> tuple[int, int]:
    """(actors, threads per actor) for the CPUs of Ray's nodes.

    By default each actor runs the thread count of a single-process build here (bit-identical
    vectors) and there are as many actors as fit. Asking for more actors gives each fewer
    threads, so that they share the CPUs: faster, but bf16 vectors of small batches may then
    differ by ~1e-3. An actor never gets more threads than one node has, or it would never run.
    """
    cpus = max(1, sum(node_cpus))
    threads = options.threads or torch_threads
    if options.actors and not options.threads:
        threads = min(threads, max(1, cpus // options.actors))
    threads = max(1, min(threads, max([1, *node_cpus])))
    return options.actors or max(1, cpus // threads), threads


def _torch_threads() -> int:
    """The thread count a single-process build on this machine embeds with."""
    import torch

    return max(1, torch.get_num_threads())
