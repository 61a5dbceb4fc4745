"""``facerec serve --engine ray``: the same FastAPI app, deployed on a Ray cluster with Ray Serve.

Each of the ``--replicas`` ingress replicas builds the app with :func:`facerec.service.app.create_app`
(its own models and gallery connection), so the OpenAPI document, keys, Host/Origin rules,
limits and error bodies are those of ``facerec serve``. Replicas are spread over the nodes (at
most ceil(N / nodes) per node), reserve one CPU each and take at most twice their inference
threads of requests at once (more wait in the proxy); the proxy sends each request to the less
busy of two replicas wherever they run (Serve's preference for the proxy's own node is turned off
for the Serve instance this command starts). Ray's HTTP proxy listens on
``--host/--port`` on the head node only (a proxy on every node would need one port per node on one
machine; on a real cluster put a load balancer in front of the head, or run several heads' worth
of replicas behind it). The gallery must be a Milvus server, the one store every replica can
share: an SQLite file or a Milvus Lite file is refused.

The command is the Ray driver. It joins ``--address`` (or ``RAY_ADDRESS``) or starts a local Ray;
on Ctrl-C or SIGTERM it deletes the deployment, shuts Serve down if it started it, and stops the
local Ray it started. ``/v1/health`` reports ``replicas`` (the number asked for), ``nodes`` (node
id -> live replicas there, from a small registry actor every replica signs in to) and ``node``
(the node of the replica that answered).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import signal
import socket
import time
from typing import Optional

from facerec.errors import FacerecError

APP_NAME = "facerec"
REGISTRY = "facerec-serve-replicas"
NAMESPACE = "facerec"


class ReplicaRegistry:
    """Which replica runs on which node (a Ray actor owned by the driver, so it dies with it)."""

    def __init__(self, replicas: int) -> None:
        self.replicas = replicas
        self.where: dict[str, str] = {}

    def sign_in(self, replica: str, node: str) -> None:
        self.where[replica] = node

    def sign_out(self, replica: str) -> None:
        self.where.pop(replica, None)

    def summary(self) -> dict:
        nodes: dict[str, int] = {}
        for node in self.where.values():
            nodes[node] = nodes.get(node, 0) + 1
        return {"replicas": self.replicas, "nodes": nodes}


class ClusterInfo:
    """What a replica's ``/v1/health`` adds: the replica count, the nodes they run on, its own node."""

    def __init__(self, registry, node: str) -> None:
        self.registry, self.node = registry, node

    async def health(self) -> dict:
        summary = await self.registry.summary.remote()
        return {**summary, "node": self.node}


def require_milvus_server(db: str) -> None:
    """Replicas on several machines share one gallery: only a Milvus server fits."""
    from facerec.gallery.milvus_store import is_milvus, parse_location

    if not is_milvus(db) or "://" not in parse_location(db)[0]:
        raise FacerecError(f"--engine ray needs a gallery every replica can reach: a Milvus server "
                           f"(--db milvus://HOST:19530/NAME), not {db}")


def _ingress_class():
    from ray import serve

    @serve.ingress()
    class FacerecService:
        """One replica: the app of :func:`~facerec.service.app.create_app` with this replica's models."""

        def __init__(self, cfg) -> None:
            import ray

            self.cfg = cfg
            self.replica = serve.get_replica_context().replica_id.unique_id
            self.registry = ray.get_actor(REGISTRY, namespace=NAMESPACE)
            self.node = ray.get_runtime_context().get_node_id()

        def __serve_build_asgi_app__(self):
            from facerec.service.app import create_app

            app = create_app(self.cfg)
            app.state.cluster = ClusterInfo(self.registry, self.node)
            self.registry.sign_in.remote(self.replica, self.node)
            return app

        def __del__(self) -> None:
            try:
                self.registry.sign_out.remote(self.replica)
            except Exception:  # noqa: BLE001 - the registry is gone with the driver
                pass

    return FacerecService


def _start_ray(address: Optional[str]):
    """Join ``address``, or start a local Ray of our own (every port free, stopped by PID:
    :class:`~facerec.workflows.ray_local.LocalRay`) and return it, for the caller to stop."""
    import ray

    from facerec.workflows.ray_engine import _check_reachable
    from facerec.workflows.ray_local import LocalRay

    logging.getLogger("ray").setLevel(logging.ERROR)
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
                    "configure_logging": False, "namespace": NAMESPACE,
                    # inherited by the Serve controller and the proxy it starts: route to the least busy of
                    # two replicas wherever they run, not to the proxy's node until its replica is full
                    "runtime_env": {"env_vars": {"RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0"}}}
    local = None
    try:
        if address:
            _check_reachable(address)
        else:
            local = LocalRay()
            address = local.start()
        ray.init(address=address, **kwargs)
        return local
    except (ConnectionError, ValueError, RuntimeError, OSError) as exc:
        if local is not None:
            local.stop()
        raise FacerecError(f"cannot start or join {address or 'a local Ray'}: {' '.join(str(exc).split())[:300]}") \
            from None


def _serve_running() -> bool:
    import ray

    try:
        ray.get_actor("SERVE_CONTROLLER_ACTOR", namespace="serve")
        return True
    except ValueError:
        return False


def _port_free(host: str, port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise FacerecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(cfg, *, port: int, replicas: int, address: Optional[str], say=print, ready_timeout_s: float = 600.0) -> None:
    """Deploy the app with ``replicas`` replicas behind Ray's proxy on ``cfg.host:port``, until Ctrl-C/SIGTERM."""
    require_milvus_server(str(cfg.db))
    try:
        import ray
        from ray import serve
    except ImportError:
        raise FacerecError("--engine ray needs Ray Serve: pip install 'facerec[ray]'") from None
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address:
        _port_free(cfg.host, port)  # a local Ray's proxy would otherwise fail inside Ray, long after
    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum
        raise KeyboardInterrupt

    local = _start_ray(address)  # a local Ray started here is stopped at the end, by PID
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    # after ray.init, which installs its own fatal-signal handler (a stack dump on SIGTERM)
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    started_serve = False
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        started_serve = not _serve_running()
        serve.start(proxy_location="HeadOnly", http_options={"host": cfg.host, "port": port})
        registry = ray.remote(num_cpus=0)(ReplicaRegistry).options(
            name=REGISTRY, namespace=NAMESPACE, get_if_exists=True).remote(replicas)
        per_node = max(1, math.ceil(replicas / max(1, len(nodes))))
        deployment = serve.deployment(_ingress_class(), name="FacerecService", num_replicas=replicas,
                                      max_replicas_per_node=per_node if per_node < replicas else None,
                                      ray_actor_options={"num_cpus": 1},
                                      max_ongoing_requests=max(2, 2 * cfg.workers),
                                      health_check_period_s=10, graceful_shutdown_timeout_s=5)
        serve.run(deployment.bind(dataclasses.replace(cfg, request_id_header=False)), name=APP_NAME, route_prefix="/", blocking=False)
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        deadline = time.monotonic() + ready_timeout_s
        while len(ray.get(registry.summary.remote())["nodes"]) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        say(f"serving on http://{cfg.host}:{port}/ with {replicas} replica(s) on Ray (API docs: /docs)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for s, handler in old.items():
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C does not cut the clean-up short
        try:
            if ray.is_initialized():
                try:
                    serve.delete(APP_NAME)
                except Exception:  # noqa: BLE001 - never deployed
                    pass
                if started_serve:
                    serve.shutdown()
        finally:
            ray.shutdown()
            if local is not None:
                local.stop()
            for s, handler in old.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)
