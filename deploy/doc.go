// Package deploy holds chave's Kubernetes manifests (kustomize: base/ and
// overlays/), its container image (Dockerfile) and, in render_test.go, the
// test that renders every overlay with kustomize's Go API, decodes each
// object strictly into its Kubernetes API type and checks the deployment
// policy (resources, security context, probes, pinned images, disruption
// budgets, autoscalers, network policy, Secrets referenced by name only).
package deploy
