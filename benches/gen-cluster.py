#!/usr/bin/env python3
"""Generates a cluster dump (`kubectl get namespaces,pods -A -o yaml` shape) and its
NetworkPolicies for `netpolc eval` at scale (benches/eval-scale.sh).

Usage: gen-cluster.py NAMESPACES OUTDIR
Per namespace: 10 pods (apps web, api, db, worker, cache), 11 NetworkPolicies: default
deny (ingress and egress), DNS egress to kube-system, allows between the apps, one
cross-namespace allow (web to the next namespace's web). Plus kube-system with DNS."""
import os
import sys

APPS = ["web", "web", "web", "api", "api", "api", "db", "worker", "worker", "cache"]


def pod(ns, name, app, ip, ip6):
    return f"""- apiVersion: v1
  kind: Pod
  metadata:
    name: {name}
    namespace: {ns}
    labels:
      app: {app}
      pod-template-hash: h{APPS.index(app)}
  spec:
    nodeName: node-1
    containers:
    - name: main
      image: registry.example/{app}:1
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
  status:
    phase: Running
    podIP: {ip}
    podIPs:
    - ip: {ip}
    - ip: {ip6}
"""


def namespace(ns, team):
    return f"""- apiVersion: v1
  kind: Namespace
  metadata:
    name: {ns}
    labels:
      kubernetes.io/metadata.name: {ns}
      team: {team}
"""


def np(ns, name, spec):
    return f"""---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {ns}
spec:
{spec}"""


def allow(ns, name, src, dst, port):
    return np(ns, f"{name}-in", f"""  podSelector:
    matchLabels:
      app: {dst}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: {src}
    ports:
    - port: {port}
      protocol: TCP
""") + np(ns, f"{name}-out", f"""  podSelector:
    matchLabels:
      app: {src}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels:
          app: {dst}
    ports:
    - port: {port}
      protocol: TCP
""")


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    k = 0
    with open(os.path.join(out, "cluster.yaml"), "w") as d, open(
        os.path.join(out, "policies.yaml"), "w"
    ) as p:
        d.write("apiVersion: v1\nitems:\n")
        d.write(namespace("kube-system", "platform"))
        d.write(
            """- apiVersion: v1
  kind: Pod
  metadata:
    name: coredns-1
    namespace: kube-system
    labels:
      k8s-app: kube-dns
  spec:
    containers:
    - name: coredns
      ports:
      - {containerPort: 53, name: dns, protocol: UDP}
  status:
    phase: Running
    podIP: 10.0.255.1
"""
        )
        for i in range(n):
            ns = f"ns-{i:05d}"
            d.write(namespace(ns, f"team-{i % 7}"))
            for j, app in enumerate(APPS):
                k += 1
                ip = f"10.{1 + k // 65536}.{(k // 256) % 256}.{k % 256}"
                d.write(pod(ns, f"{app}-{j}", app, ip, f"fd00::{k:x}"))
            p.write(np(ns, "default-deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"))
            p.write(np(ns, "dns", """  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
    ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
"""))
            p.write(allow(ns, "web-api", "web", "api", 8080))
            p.write(allow(ns, "api-db", "api", "db", 5432))
            p.write(allow(ns, "worker-db", "worker", "db", 5432))
            p.write(allow(ns, "api-cache", "api", "cache", 6379))
            prev = f"ns-{(i - 1) % n:05d}"
            nxt = f"ns-{(i + 1) % n:05d}"
            p.write(np(ns, "web-chain", f"""  podSelector:
    matchLabels:
      app: web
  policyTypes: [Ingress, Egress]
  egress:
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {nxt}
      podSelector:
        matchLabels:
          app: web
    ports:
    - port: 8080
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {prev}
      podSelector:
        matchLabels:
          app: web
    ports:
    - port: http
"""))
        d.write("kind: List\nmetadata:\n  resourceVersion: \"\"\n")


if __name__ == "__main__":
    main()
