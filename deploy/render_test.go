package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// image is the repository every container runs; the overlays only pin its
// version (kustomization images:).
const image = "ghcr.io/chave/chave"

// secretKeys are the Secrets the manifests may reference, by name only, and
// their keys (deploy/README.md tells how to create them).
var secretKeys = map[string][]string{
	"chave-database": {"url"},
	"chave-redis":    {"url"},
	"chave-keys":     {"hash-key", "encryption-key", "refresh-token-key", "internal-token"},
	// The key-encryption key of the signing keys kept in the database;
	// the signing keys themselves are in no Secret.
	"chave-key-encryption-key": {"key"},
	// components/mtls: each workload's certificate, as cert-manager writes it.
	"chave-registry-tls": {"tls.crt", "tls.key", "ca.crt"},
	"chave-auth-tls":     {"tls.crt", "tls.key", "ca.crt"},
	"chave-gateway-tls":  {"tls.crt", "tls.key", "ca.crt"},
}

// expectation is what an overlay promises beyond the common policy.
type expectation struct {
	namespace      string
	replicas       int32
	hpaMin, hpaMax int32
	// minKept is how many pods of each Deployment its disruption budget
	// keeps at the overlay's replica count.
	minKept  int
	logLevel string
}

var expectations = map[string]expectation{
	"overlays/dev":  {namespace: "chave-dev", replicas: 1, hpaMin: 1, hpaMax: 2, minKept: 0, logLevel: "debug"},
	"overlays/prod": {namespace: "chave", replicas: 3, hpaMin: 3, hpaMax: 10, minKept: 2, logLevel: "info"},
}

// rendered is the output of one kustomization, decoded.
type rendered struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	serviceAccounts []*corev1.ServiceAccount
	namespaces      []*corev1.Namespace
	pdbs            []*policyv1.PodDisruptionBudget
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	netpols         []*networkingv1.NetworkPolicy
	jobs            []*batchv1.Job
	// objects holds every object's metadata, for checks common to all.
	objects []objectMeta
}

type objectMeta struct {
	id   string // apiVersion/kind/name
	meta *metav1.ObjectMeta
}

// kustomizations lists base and every directory under overlays/.
func kustomizations(t *testing.T) []string {
	t.Helper()
	dirs := []string{"base"}
	entries, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, path.Join("overlays", e.Name()))
		}
	}
	if len(dirs) < 3 {
		t.Fatalf("expected base and at least the dev and prod overlays, found %v", dirs)
	}
	return dirs
}

func TestRender(t *testing.T) {
	for _, dir := range kustomizations(t) {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			checkAll(t, r)
			if e, ok := expectations[dir]; ok {
				checkOverlay(t, r, e)
			} else if strings.HasPrefix(dir, "overlays/") {
				t.Errorf("no expectations for %s: add it to the expectations table", dir)
			}
		})
	}
}

func checkAll(t *testing.T, r *rendered) {
	t.Helper()
	checkCommon(t, r)
	checkDeployments(t, r)
	checkJobs(t, r)
	checkServices(t, r)
	checkNetworkPolicies(t, r)
	checkInternalCaller(t, r)
	checkSigningKeys(t, r)
}

// checkSigningKeys requires the signing keys to come from the database:
// the auth service reads the database and the key-encryption key from
// Secrets, mounts no key file and names none; no other service reads the
// key-encryption key.
func checkSigningKeys(t *testing.T, r *rendered) {
	t.Helper()
	for _, d := range r.deployments {
		spec := d.Spec.Template.Spec
		for _, v := range spec.Volumes {
			if v.Secret != nil && strings.Contains(v.Secret.SecretName, "signing") {
				t.Errorf("Deployment %s mounts Secret %s: signing keys live in the database", d.Name, v.Secret.SecretName)
			}
		}
		for _, c := range spec.Containers {
			role := c.Args[0]
			kek, db := false, false
			for _, e := range c.Env {
				ref := e.ValueFrom
				switch {
				case e.Name == "CHAVE_SIGNING_KEYS_FILE":
					t.Errorf("Deployment %s: CHAVE_SIGNING_KEYS_FILE: signing keys live in the database", d.Name)
				case e.Name == "CHAVE_KEY_ENCRYPTION_KEY" && ref != nil && ref.SecretKeyRef != nil && ref.SecretKeyRef.Name == "chave-key-encryption-key":
					kek = true
				case e.Name == "CHAVE_KEY_ENCRYPTION_KEY":
					t.Errorf("Deployment %s: CHAVE_KEY_ENCRYPTION_KEY not from Secret chave-key-encryption-key", d.Name)
				case e.Name == "CHAVE_DB" && ref != nil && ref.SecretKeyRef != nil:
					db = true
				}
			}
			switch {
			case role == "auth" && (!kek || !db):
				t.Errorf("Deployment %s: the auth service reads CHAVE_DB %v and CHAVE_KEY_ENCRYPTION_KEY %v from Secrets; want both", d.Name, db, kek)
			case role != "auth" && kek:
				t.Errorf("Deployment %s: only the auth service holds the key-encryption key", d.Name)
			}
		}
	}
}

// checkInternalCaller requires the registry to admit only the auth service
// to CredentialService: both read the same internal-service token from a
// Secret, and the registry is never told to admit anyone.
func checkInternalCaller(t *testing.T, r *rendered) {
	t.Helper()
	refs := map[string]string{}
	for _, d := range r.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			role := c.Args[0]
			for _, e := range c.Env {
				switch {
				case e.Name == "CHAVE_INSECURE_INTERNAL_RPCS":
					t.Errorf("Deployment %s: CHAVE_INSECURE_INTERNAL_RPCS opens CredentialService to every caller", d.Name)
				case e.Name == "CHAVE_INTERNAL_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					refs[role] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
				case e.Name == "CHAVE_INTERNAL_TOKEN":
					t.Errorf("Deployment %s: CHAVE_INTERNAL_TOKEN not from a Secret", d.Name)
				}
			}
			if role == "gateway" && refs[role] != "" {
				t.Errorf("Deployment %s: the gateway holds the internal-service token", d.Name)
			}
		}
	}
	if refs["registry"] == "" || refs["registry"] != refs["auth"] {
		t.Errorf("CHAVE_INTERNAL_TOKEN: registry reads %q, auth %q; want the same Secret key", refs["registry"], refs["auth"])
	}
}

// tlsSettings are the TLS settings each service reads with components/mtls:
// the registry's listener, the auth service's listener and client, the
// gateway's client.
var tlsSettings = map[string][]string{
	"registry": {"CHAVE_TLS_CERT", "CHAVE_TLS_KEY", "CHAVE_TLS_CLIENT_CA", "CHAVE_INTERNAL_CLIENT_IDENTITY"},
	"auth":     {"CHAVE_TLS_CERT", "CHAVE_TLS_KEY", "CHAVE_TLS_CLIENT_CA", "CHAVE_TLS_CA", "CHAVE_TLS_CLIENT_CERT", "CHAVE_TLS_CLIENT_KEY"},
	"gateway":  {"CHAVE_TLS_CA", "CHAVE_TLS_CLIENT_CERT", "CHAVE_TLS_CLIENT_KEY"},
}

// TestMTLSComponent renders the prod overlay with components/mtls, as an
// overlay that includes it would, and checks it like any overlay, plus the
// TLS settings of every service.
func TestMTLSComponent(t *testing.T) {
	prod, err := filepath.Abs("overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	mtls, err := filepath.Abs("components/mtls")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// kustomize refuses absolute paths: name them from dir.
	if prod, err = filepath.Rel(dir, prod); err != nil {
		t.Fatal(err)
	}
	if mtls, err = filepath.Rel(dir, mtls); err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\ncomponents:\n  - %s\n", prod, mtls)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	r := render(t, dir)
	checkAll(t, r)
	checkOverlay(t, r, expectations["overlays/prod"])
	for _, d := range r.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, name := range tlsSettings[c.Args[0]] {
				if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name }) {
					t.Errorf("Deployment %s: %s is not set", d.Name, name)
				}
			}
			if c.Args[0] != "gateway" && c.ReadinessProbe.GRPC != nil {
				t.Errorf("Deployment %s: a kubelet gRPC probe cannot speak TLS", d.Name)
			}
		}
	}
	for _, s := range r.services {
		for _, p := range s.Spec.Ports {
			if p.AppProtocol != nil && *p.AppProtocol == "kubernetes.io/h2c" {
				t.Errorf("Service %s port %s: announced as cleartext HTTP/2 (h2c) while it speaks TLS", s.Name, p.Name)
			}
		}
	}
}

// render runs kustomize in-process on dir and decodes every object strictly
// into its Kubernetes API type.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	resMap, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{}
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.add(y); err != nil {
			t.Errorf("%s: %v\n%s", res.CurId(), err, y)
		}
	}
	if len(r.objects) == 0 {
		t.Fatalf("%s rendered nothing", dir)
	}
	return r
}

// add decodes one rendered object: YAML to JSON, then JSON into the type
// its apiVersion and kind name, refusing unknown and duplicate fields
// (case-sensitively, as the API server does), and unknown kinds.
func (r *rendered) add(y []byte) error {
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return err
	}
	var obj interface {
		GetObjectMeta() metav1.Object
	}
	gvk := tm.APIVersion + "/" + tm.Kind
	switch gvk {
	case "apps/v1/Deployment":
		o := &appsv1.Deployment{}
		r.deployments, obj = append(r.deployments, o), o
	case "v1/Service":
		o := &corev1.Service{}
		r.services, obj = append(r.services, o), o
	case "v1/ConfigMap":
		o := &corev1.ConfigMap{}
		r.configMaps, obj = append(r.configMaps, o), o
	case "v1/ServiceAccount":
		o := &corev1.ServiceAccount{}
		r.serviceAccounts, obj = append(r.serviceAccounts, o), o
	case "v1/Namespace":
		o := &corev1.Namespace{}
		r.namespaces, obj = append(r.namespaces, o), o
	case "policy/v1/PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		r.pdbs, obj = append(r.pdbs, o), o
	case "autoscaling/v2/HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		r.hpas, obj = append(r.hpas, o), o
	case "networking.k8s.io/v1/NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		r.netpols, obj = append(r.netpols, o), o
	case "batch/v1/Job":
		o := &batchv1.Job{}
		r.jobs, obj = append(r.jobs, o), o
	case "v1/Secret":
		// Secrets are created by the operator (deploy/README.md); one
		// rendered with a value would commit a credential.
		var s corev1.Secret
		if err := decodeStrict(j, &s); err != nil {
			return err
		}
		if len(s.Data) > 0 || len(s.StringData) > 0 {
			return fmt.Errorf("Secret %s is rendered with data: Secrets are referenced by name only", s.Name)
		}
		return fmt.Errorf("Secret %s is rendered: Secrets are created outside kustomize", s.Name)
	default:
		return fmt.Errorf("unknown kind %s: add its type to the render test", gvk)
	}
	if err := decodeStrict(j, obj); err != nil {
		return err
	}
	m := obj.GetObjectMeta().(*metav1.ObjectMeta)
	r.objects = append(r.objects, objectMeta{id: gvk + "/" + m.Name, meta: m})
	return nil
}

func decodeStrict(j []byte, into any) error {
	strict, err := kjson.UnmarshalStrict(j, into, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decoding: %v", strict)
	}
	// encoding/json as a second opinion, so the check does not rest on one
	// decoder alone.
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func checkCommon(t *testing.T, r *rendered) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range r.objects {
		if seen[o.id] {
			t.Errorf("%s rendered twice", o.id)
		}
		seen[o.id] = true
		if o.meta.Labels["app.kubernetes.io/part-of"] != "chave" {
			t.Errorf("%s: missing label app.kubernetes.io/part-of=chave", o.id)
		}
	}
	for _, sa := range r.serviceAccounts {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s: automountServiceAccountToken must be false", sa.Name)
		}
	}
	for _, ns := range r.namespaces {
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Errorf("Namespace %s: enforce the restricted Pod Security Standard", ns.Name)
		}
	}
	if len(r.deployments) != 3 {
		t.Errorf("want the registry, auth and gateway Deployments, got %d", len(r.deployments))
	}
	if len(r.jobs) != 1 {
		t.Errorf("want the migration Job, got %d Jobs", len(r.jobs))
	}
}

func checkDeployments(t *testing.T, r *rendered) {
	t.Helper()
	subcommands := map[string]bool{}
	for _, d := range r.deployments {
		where := "Deployment " + d.Name
		tmpl := d.Spec.Template
		podLabels := labels.Set(tmpl.Labels)
		if !selects(t, where, d.Spec.Selector, podLabels) {
			t.Errorf("%s: selector does not select its pod template", where)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 1 {
			t.Errorf("%s: replicas must be set and at least 1", where)
		}
		checkShutdown(t, r, where, tmpl.Spec)
		checkTopologySpread(t, where, tmpl)
		checkPodSpec(t, r, where, tmpl.Spec)
		for _, c := range tmpl.Spec.Containers {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("%s container %s: readiness and liveness probes are required", where, c.Name)
				continue
			}
			checkProbe(t, where+" readiness", c, c.ReadinessProbe)
			checkProbe(t, where+" liveness", c, c.LivenessProbe)
			if len(c.Args) == 0 {
				t.Errorf("%s container %s: no subcommand in args", where, c.Name)
				continue
			}
			sub := c.Args[0]
			subcommands[sub] = true
			switch sub {
			case "registry", "auth":
				// Readiness: grpc.health.v1 (which follows the service's
				// dependencies), or GET /readyz on the metrics port when
				// the gRPC port speaks TLS (kubelet gRPC probes cannot).
				// Liveness: GET /healthz on the metrics port, never the
				// dependencies, or an outage of the database would restart
				// every pod.
				if g := c.ReadinessProbe.HTTPGet; c.ReadinessProbe.GRPC == nil && (g == nil || g.Path != "/readyz" || g.Port.String() != "metrics") {
					t.Errorf("%s: the %s service's readiness is a grpc.health.v1 probe, or GET /readyz on port metrics", where, sub)
				}
				if g := c.LivenessProbe.HTTPGet; g == nil || g.Path != "/healthz" || g.Port.String() != "metrics" {
					t.Errorf("%s: the %s service's liveness probe must be GET /healthz on port metrics", where, sub)
				}
			case "gateway":
				if g := c.ReadinessProbe.HTTPGet; g == nil || g.Path != "/readyz" {
					t.Errorf("%s: readiness probe must be GET /readyz", where)
				}
				if g := c.LivenessProbe.HTTPGet; g == nil || g.Path != "/healthz" {
					t.Errorf("%s: liveness probe must be GET /healthz", where)
				}
			default:
				t.Errorf("%s: unknown subcommand %q", where, sub)
			}
			checkPeerAddresses(t, r, where, c.Args)
			checkJWKSURL(t, r, where, c)
		}

		var pdbs, hpas []string
		for _, p := range r.pdbs {
			if selects(t, "PodDisruptionBudget "+p.Name, p.Spec.Selector, podLabels) {
				pdbs = append(pdbs, p.Name)
				if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
					t.Errorf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", p.Name)
				}
			}
		}
		if len(pdbs) != 1 {
			t.Errorf("%s: want exactly one PodDisruptionBudget selecting it, got %v", where, pdbs)
		}
		for _, h := range r.hpas {
			ref := h.Spec.ScaleTargetRef
			if ref.APIVersion == "apps/v1" && ref.Kind == "Deployment" && ref.Name == d.Name {
				hpas = append(hpas, h.Name)
				checkHPA(t, h)
			}
		}
		if len(hpas) != 1 {
			t.Errorf("%s: want exactly one HorizontalPodAutoscaler scaling it, got %v", where, hpas)
		}
	}
	for _, want := range []string{"registry", "auth", "gateway"} {
		if !subcommands[want] {
			t.Errorf("no Deployment runs `chave %s`", want)
		}
	}
}

// chave's shutdown on SIGTERM (services/cmd/chave/servers.go): it keeps
// serving, not ready, for the drain delay, then finishes what is in flight
// within shutdownTimeout.
const (
	defaultDrainDelay = 5 * time.Second
	shutdownTimeout   = 20 * time.Second
	// shutdownMargin is left for the process to exit after the drain.
	shutdownMargin = 5 * time.Second
)

// checkShutdown: the pod's grace period covers chave's drain delay (as its
// environment sets it) and its drain of in-flight requests, and no preStop
// hook adds to it unaccounted (the drain is chave's own: it must hear
// SIGTERM at once to turn not ready and close kept-alive connections).
func checkShutdown(t *testing.T, r *rendered, where string, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			t.Errorf("%s container %s: no preStop hook; chave drains on SIGTERM itself (CHAVE_SHUTDOWN_DRAIN_DELAY)", where, c.Name)
		}
		drain := defaultDrainDelay
		if v, ok := envValue(r, c, "CHAVE_SHUTDOWN_DRAIN_DELAY"); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				t.Errorf("%s container %s: CHAVE_SHUTDOWN_DRAIN_DELAY %q: want a duration of at least 1s, for the endpoints to drop the pod", where, c.Name, v)
				continue
			}
			drain = d
		}
		need := drain + shutdownTimeout + shutdownMargin
		if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < need {
			t.Errorf("%s: terminationGracePeriodSeconds must cover the drain delay %v, the %v drain of in-flight requests and %v to exit: at least %v",
				where, drain, shutdownTimeout, shutdownMargin, need)
		}
	}
}

// envValue is the value of the environment variable name in container c:
// its env, else its envFrom ConfigMaps (the later wins, as in Kubernetes).
func envValue(r *rendered, c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	var v string
	var found bool
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		key, ok := strings.CutPrefix(name, ef.Prefix) // the variable is Prefix + key
		if cm := configMap(r, ef.ConfigMapRef.Name); ok && cm != nil {
			if x, ok := cm.Data[key]; ok {
				v, found = x, true
			}
		}
	}
	return v, found
}

func checkJobs(t *testing.T, r *rendered) {
	t.Helper()
	for _, j := range r.jobs {
		where := "Job " + j.Name
		spec := j.Spec.Template.Spec
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("%s: restartPolicy must be Never or OnFailure", where)
		}
		if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("%s: backoffLimit and activeDeadlineSeconds bound its retries", where)
		}
		if len(spec.Containers) != 1 || len(spec.Containers[0].Args) == 0 || spec.Containers[0].Args[0] != "migrate" {
			t.Errorf("%s: must run `chave migrate`", where)
		}
		checkPodSpec(t, r, where, spec)
	}
}

// checkPodSpec applies the container policy to a pod: resources, security
// context, pinned image, and references to ServiceAccounts, ConfigMaps,
// Secrets and volumes that resolve.
func checkPodSpec(t *testing.T, r *rendered, where string, spec corev1.PodSpec) {
	t.Helper()
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false", where)
	}
	if !slices.ContainsFunc(r.serviceAccounts, func(sa *corev1.ServiceAccount) bool { return sa.Name == spec.ServiceAccountName }) {
		t.Errorf("%s: serviceAccountName %q is not rendered", where, spec.ServiceAccountName)
	}
	// Service links would put CHAVE_REGISTRY_PORT and the like, named after
	// the chave-* Services, among the CHAVE_* variables chave reads.
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("%s: enableServiceLinks must be false", where)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("%s: no host namespaces", where)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		switch {
		case v.Secret != nil:
			if len(v.Secret.Items) == 0 {
				t.Errorf("%s volume %s: list the Secret's items", where, v.Name)
			}
			for _, it := range v.Secret.Items {
				checkSecretRef(t, where, v.Secret.SecretName, it.Key)
			}
		case v.ConfigMap != nil:
			if configMap(r, v.ConfigMap.Name) == nil {
				t.Errorf("%s volume %s: ConfigMap %s is not rendered", where, v.Name, v.ConfigMap.Name)
			}
		case v.EmptyDir != nil:
		default:
			t.Errorf("%s volume %s: only Secret, ConfigMap and emptyDir volumes are expected", where, v.Name)
		}
	}
	containers := append(slices.Clone(spec.InitContainers), spec.Containers...)
	if len(spec.Containers) == 0 {
		t.Errorf("%s: no containers", where)
	}
	for _, c := range containers {
		cw := where + " container " + c.Name
		checkResources(t, cw, c.Resources)
		checkSecurity(t, cw, spec.SecurityContext, c.SecurityContext)
		checkImage(t, cw, c.Image)
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("%s: mounts undeclared volume %s", cw, m.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			switch {
			case ef.ConfigMapRef != nil:
				if configMap(r, ef.ConfigMapRef.Name) == nil {
					t.Errorf("%s: envFrom ConfigMap %s is not rendered", cw, ef.ConfigMapRef.Name)
				}
			default:
				t.Errorf("%s: envFrom only from ConfigMaps; take Secret keys one by one", cw)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			switch {
			case e.ValueFrom.SecretKeyRef != nil:
				checkSecretRef(t, cw+" env "+e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			case e.ValueFrom.ConfigMapKeyRef != nil:
				ref := e.ValueFrom.ConfigMapKeyRef
				if cm := configMap(r, ref.Name); cm == nil {
					t.Errorf("%s env %s: ConfigMap %s is not rendered", cw, e.Name, ref.Name)
				} else if _, ok := cm.Data[ref.Key]; !ok {
					t.Errorf("%s env %s: ConfigMap %s has no key %s", cw, e.Name, ref.Name, ref.Key)
				}
			}
		}
		// A file named in the environment is mounted from a volume that
		// provides it.
		for _, e := range c.Env {
			if e.Name != "CHAVE_CATALOG" && e.Name != "CHAVE_SIGNING_KEYS_FILE" && !strings.HasPrefix(e.Name, "CHAVE_TLS_") {
				continue
			}
			if !fileProvided(r, volumes, c.VolumeMounts, e.Value) {
				t.Errorf("%s: %s=%s is not provided by any mounted volume", cw, e.Name, e.Value)
			}
		}
	}
}

func checkSecretRef(t *testing.T, where, name, key string) {
	t.Helper()
	keys, ok := secretKeys[name]
	if !ok {
		t.Errorf("%s: Secret %q is not one deploy/README.md documents", where, name)
		return
	}
	if !slices.Contains(keys, key) {
		t.Errorf("%s: Secret %s has no documented key %q (documented: %v)", where, name, key, keys)
	}
}

// configMap finds a rendered ConfigMap by the name a workload uses, which
// kustomize has already rewritten to the generated, hash-suffixed name.
func configMap(r *rendered, name string) *corev1.ConfigMap {
	for _, cm := range r.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

func fileProvided(r *rendered, volumes map[string]corev1.Volume, mounts []corev1.VolumeMount, file string) bool {
	for _, m := range mounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok || m.SubPath != "" {
			continue
		}
		v := volumes[m.Name]
		switch {
		case v.ConfigMap != nil:
			cm := configMap(r, v.ConfigMap.Name)
			if cm == nil {
				return false
			}
			if len(v.ConfigMap.Items) == 0 {
				_, inData := cm.Data[rel]
				_, inBinary := cm.BinaryData[rel]
				return inData || inBinary
			}
			return slices.ContainsFunc(v.ConfigMap.Items, func(k corev1.KeyToPath) bool { return k.Path == rel })
		case v.Secret != nil:
			return slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == rel })
		}
	}
	return false
}

func checkResources(t *testing.T, where string, res corev1.ResourceRequirements) {
	t.Helper()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := res.Requests[name]
		lim, hasLim := res.Limits[name]
		if !hasReq || !hasLim {
			t.Errorf("%s: resources.requests and resources.limits must both set %s", where, name)
			continue
		}
		if req.Sign() <= 0 {
			t.Errorf("%s: %s request must be positive", where, name)
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s exceeds its limit %s", where, name, req.String(), lim.String())
		}
	}
}

// checkSecurity checks the container's effective security context: its own
// fields, or the pod's where Kubernetes inherits them.
func checkSecurity(t *testing.T, where string, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	t.Helper()
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if c == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	runAsNonRoot := c.RunAsNonRoot
	if runAsNonRoot == nil {
		runAsNonRoot = pod.RunAsNonRoot
	}
	runAsUser := c.RunAsUser
	if runAsUser == nil {
		runAsUser = pod.RunAsUser
	}
	seccomp := c.SeccompProfile
	if seccomp == nil {
		seccomp = pod.SeccompProfile
	}
	if runAsNonRoot == nil || !*runAsNonRoot {
		t.Errorf("%s: runAsNonRoot must be true", where)
	}
	if runAsUser == nil || *runAsUser != 65532 {
		t.Errorf("%s: runAsUser must be 65532 (distroless nonroot)", where)
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault", where)
	}
	if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem must be true", where)
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if c.Privileged != nil && *c.Privileged {
		t.Errorf("%s: must not be privileged", where)
	}
	if c.Capabilities == nil || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities must drop ALL and add none", where)
	}
}

var (
	digestRE = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// checkImage requires chave's image pinned by tag or digest, never latest.
func checkImage(t *testing.T, where, ref string) {
	t.Helper()
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest && !digestRE.MatchString("@"+digest) {
		t.Errorf("%s: image %s: malformed digest", where, ref)
	}
	repo, tag, hasTag := name, "", false
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, tag, hasTag = name[:i], name[i+1:], true
	}
	if repo != image {
		t.Errorf("%s: image %s is not %s", where, ref, image)
	}
	if !hasTag && !hasDigest {
		t.Errorf("%s: image %s is not pinned: set a tag or digest in kustomization images:", where, ref)
	}
	if hasTag && (!tagRE.MatchString(tag) || tag == "latest") {
		t.Errorf("%s: image %s: tag %q is not a pinned version", where, ref, tag)
	}
}

func checkProbe(t *testing.T, where string, c corev1.Container, p *corev1.Probe) {
	t.Helper()
	var port intstr.IntOrString
	switch {
	case p.GRPC != nil:
		port = intstr.FromInt32(p.GRPC.Port)
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	default:
		t.Errorf("%s: probe without a gRPC, HTTP or TCP handler", where)
		return
	}
	if !hasContainerPort(c, port) {
		t.Errorf("%s: probes port %s, which container %s does not declare", where, port.String(), c.Name)
	}
	if p.PeriodSeconds <= 0 || p.FailureThreshold <= 0 || p.TimeoutSeconds <= 0 {
		t.Errorf("%s: set periodSeconds, timeoutSeconds and failureThreshold", where)
	}
}

func hasContainerPort(c corev1.Container, port intstr.IntOrString) bool {
	return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		if port.Type == intstr.String {
			return p.Name == port.StrVal
		}
		return p.ContainerPort == port.IntVal
	})
}

func checkTopologySpread(t *testing.T, where string, tmpl corev1.PodTemplateSpec) {
	t.Helper()
	keys := map[string]bool{}
	for _, c := range tmpl.Spec.TopologySpreadConstraints {
		keys[c.TopologyKey] = true
		if c.MaxSkew < 1 {
			t.Errorf("%s: topology spread on %s: maxSkew must be at least 1", where, c.TopologyKey)
		}
		if c.WhenUnsatisfiable != corev1.DoNotSchedule && c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			t.Errorf("%s: topology spread on %s: whenUnsatisfiable %q", where, c.TopologyKey, c.WhenUnsatisfiable)
		}
		if !selects(t, where+" topology spread", c.LabelSelector, labels.Set(tmpl.Labels)) {
			t.Errorf("%s: topology spread on %s does not select the Deployment's own pods", where, c.TopologyKey)
		}
	}
	for _, k := range []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"} {
		if !keys[k] {
			t.Errorf("%s: no topology spread constraint on %s", where, k)
		}
	}
}

// checkJWKSURL requires a CHAVE_JWKS_URL on a cluster-local host to name a
// rendered Service and one of its ports.
func checkJWKSURL(t *testing.T, r *rendered, where string, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != "CHAVE_JWKS_URL" {
			continue
		}
		u, err := url.Parse(e.Value)
		if err != nil || u.Host == "" {
			t.Errorf("%s: CHAVE_JWKS_URL %q is not an absolute URL", where, e.Value)
			continue
		}
		if strings.Contains(u.Hostname(), ".") {
			continue // a public URL
		}
		port, _ := strconv.Atoi(u.Port())
		if !serviceHasPort(r, u.Hostname(), port) {
			t.Errorf("%s: CHAVE_JWKS_URL %s names no rendered Service port", where, e.Value)
		}
	}
}

func serviceHasPort(r *rendered, name string, port int) bool {
	return slices.ContainsFunc(r.services, func(s *corev1.Service) bool {
		return s.Name == name && slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == int32(port) })
	})
}

// checkPeerAddresses requires --registry and --auth to name a rendered
// Service and one of its ports.
func checkPeerAddresses(t *testing.T, r *rendered, where string, args []string) {
	t.Helper()
	for _, a := range args {
		flag, addr, ok := strings.Cut(a, "=")
		if !ok || (flag != "--registry" && flag != "--auth") {
			continue
		}
		host, portStr, ok := strings.Cut(addr, ":")
		port, err := strconv.Atoi(portStr)
		if !ok || err != nil {
			t.Errorf("%s: %s is not host:port", where, a)
			continue
		}
		if !serviceHasPort(r, host, port) {
			t.Errorf("%s: %s names no rendered Service port", where, a)
		}
	}
}

func checkHPA(t *testing.T, h *autoscalingv2.HorizontalPodAutoscaler) {
	t.Helper()
	where := "HorizontalPodAutoscaler " + h.Name
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
		t.Errorf("%s: need 1 <= minReplicas <= maxReplicas", where)
	}
	cpu := slices.ContainsFunc(h.Spec.Metrics, func(m autoscalingv2.MetricSpec) bool {
		return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil &&
			m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType &&
			m.Resource.Target.AverageUtilization != nil && *m.Resource.Target.AverageUtilization > 0
	})
	if !cpu {
		t.Errorf("%s: no CPU utilization metric", where)
	}
}

func checkServices(t *testing.T, r *rendered) {
	t.Helper()
	for _, s := range r.services {
		where := "Service " + s.Name
		if s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("%s: type must be ClusterIP (expose the gateway with an Ingress or Gateway route)", where)
		}
		var backends []*appsv1.Deployment
		for _, d := range r.deployments {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				backends = append(backends, d)
			}
		}
		if len(backends) != 1 {
			t.Errorf("%s: selects %d Deployments, want exactly one", where, len(backends))
			continue
		}
		d := backends[0]
		metrics := false
		for _, p := range s.Spec.Ports {
			if p.Name == "" {
				t.Errorf("%s: port %d has no name", where, p.Port)
			}
			metrics = metrics || p.Name == "metrics"
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			if !slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return hasContainerPort(c, target) }) {
				t.Errorf("%s: port %s targets %s, which Deployment %s does not declare", where, p.Name, target.String(), d.Name)
			}
			if !opensIngress(t, r, d.Spec.Template.Labels[componentLabel], containerPortNumber(d, target)) {
				t.Errorf("%s: no NetworkPolicy lets traffic in to port %s", where, p.Name)
			}
		}
		if !metrics {
			t.Errorf("%s: no port named metrics", where)
		}
	}
}

func containerPortNumber(d *appsv1.Deployment, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port.StrVal {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// The NetworkPolicies are checked against their intent, the flows they
// are meant to open, without evaluating them as Kubernetes would: each
// rule of each policy is read as the flows it states (which component's
// pods, in or out, to or from which peer, on which port), and the set of
// them must be exactly intendedFlows. A policy of a form this reading does
// not know (matchExpressions, a pod selector not by component) fails the
// test rather than being guessed at.

const componentLabel = "app.kubernetes.io/component"

// flow is one opening a NetworkPolicy states.
type flow struct {
	pods string // the component selected; "*" every chave pod
	dir  string // "in" or "out"
	peer string // a component, "ns:NAME" or "ns:NAME/LABEL=VALUE", "cidr:…", or "*" anywhere
	port string // "TCP/9090"; "*" every port
}

func (f flow) String() string { return fmt.Sprintf("%s %s %s %s", f.pods, f.dir, f.peer, f.port) }

// intendedFlows are the flows deploy/README.md describes: behind the
// default deny, the gateway is the only entry point; the registry answers
// the auth service and the gateway, the auth service the gateway alone;
// Prometheus scrapes every pod's metrics port; every pod resolves names;
// the registry fetches the JWKS from the gateway; the auth service reads
// its signing keys from PostgreSQL; PostgreSQL and Redis are placeholders
// open to any address.
var intendedFlows = []flow{
	{"gateway", "in", "*", "TCP/8080"},
	{"registry", "in", "auth", "TCP/9090"},
	{"registry", "in", "gateway", "TCP/9090"},
	{"auth", "in", "gateway", "TCP/9090"},
	{"*", "in", "ns:monitoring", "TCP/9100"},
	{"*", "out", "ns:kube-system/k8s-app=kube-dns", "UDP/53"},
	{"*", "out", "ns:kube-system/k8s-app=kube-dns", "TCP/53"},
	{"gateway", "out", "registry", "TCP/9090"},
	{"gateway", "out", "auth", "TCP/9090"},
	{"auth", "out", "registry", "TCP/9090"},
	{"auth", "out", "*", "TCP/5432"},
	{"auth", "out", "*", "TCP/6379"},
	{"registry", "out", "gateway", "TCP/8080"},
	{"registry", "out", "*", "TCP/5432"},
	{"registry", "out", "*", "TCP/6379"},
	{"migrate", "out", "*", "TCP/5432"},
}

// statedFlows reads every flow the policies state.
func statedFlows(t *testing.T, r *rendered) []flow {
	t.Helper()
	var flows []flow
	for _, np := range r.netpols {
		if len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 {
			continue // the default deny, checked apart
		}
		pods := selectedComponent(t, "NetworkPolicy "+np.Name, np.Spec.PodSelector)
		add := func(dir string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) {
			names := []string{"*"}
			if len(peers) > 0 {
				names = nil
				for _, p := range peers {
					names = append(names, peerName(t, "NetworkPolicy "+np.Name, p))
				}
			}
			portNames := []string{"*"}
			if len(ports) > 0 {
				portNames = nil
				for _, p := range ports {
					proto := corev1.ProtocolTCP
					if p.Protocol != nil {
						proto = *p.Protocol
					}
					port := "*"
					if p.Port != nil {
						port = p.Port.String()
					}
					if p.EndPort != nil {
						port += fmt.Sprintf("-%d", *p.EndPort)
					}
					portNames = append(portNames, string(proto)+"/"+port)
				}
			}
			for _, peer := range names {
				for _, port := range portNames {
					flows = append(flows, flow{pods, dir, peer, port})
				}
			}
		}
		for _, in := range np.Spec.Ingress {
			add("in", in.From, in.Ports)
		}
		for _, out := range np.Spec.Egress {
			add("out", out.To, out.Ports)
		}
	}
	return flows
}

// selectedComponent names the pods a chave pod selector selects: one
// component, or "*" for every chave pod.
func selectedComponent(t *testing.T, where string, s metav1.LabelSelector) string {
	t.Helper()
	if len(s.MatchExpressions) > 0 || s.MatchLabels["app.kubernetes.io/name"] != "chave" || len(s.MatchLabels) > 2 ||
		(len(s.MatchLabels) == 2 && s.MatchLabels[componentLabel] == "") {
		t.Errorf("%s: select chave pods by app.kubernetes.io/name=chave and at most a component, got %v", where, s)
		return "?"
	}
	if c := s.MatchLabels[componentLabel]; c != "" {
		return c
	}
	return "*"
}

func peerName(t *testing.T, where string, p networkingv1.NetworkPolicyPeer) string {
	t.Helper()
	switch {
	case p.IPBlock != nil:
		return "cidr:" + p.IPBlock.CIDR + strings.Join(p.IPBlock.Except, ",-")
	case p.NamespaceSelector != nil:
		ns := p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
		if ns == "" || len(p.NamespaceSelector.MatchLabels) != 1 || len(p.NamespaceSelector.MatchExpressions) > 0 {
			t.Errorf("%s: select a namespace by kubernetes.io/metadata.name alone, got %v", where, p.NamespaceSelector)
		}
		name := "ns:" + ns
		if p.PodSelector != nil {
			keys := slices.Sorted(maps.Keys(p.PodSelector.MatchLabels))
			for _, k := range keys {
				name += "/" + k + "=" + p.PodSelector.MatchLabels[k]
			}
		}
		return name
	case p.PodSelector != nil:
		return selectedComponent(t, where, *p.PodSelector)
	}
	t.Errorf("%s: a peer with no selector", where)
	return "?"
}

// opensIngress reports whether the policies state a flow into the
// component's pods (or every chave pod's) on port.
func opensIngress(t *testing.T, r *rendered, component string, port int32) bool {
	t.Helper()
	return slices.ContainsFunc(statedFlows(t, r), func(f flow) bool {
		return f.dir == "in" && (f.pods == component || f.pods == "*") && (f.port == "*" || f.port == fmt.Sprintf("TCP/%d", port))
	})
}

func checkNetworkPolicies(t *testing.T, r *rendered) {
	t.Helper()
	defaultDeny := slices.ContainsFunc(r.netpols, func(np *networkingv1.NetworkPolicy) bool {
		return len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
			len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0
	})
	if !defaultDeny {
		t.Error("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}
	for _, np := range r.netpols {
		if len(np.Spec.PolicyTypes) == 0 {
			t.Errorf("NetworkPolicy %s: list its policyTypes", np.Name)
		}
		if (len(np.Spec.Ingress) > 0 && !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)) ||
			(len(np.Spec.Egress) > 0 && !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)) {
			t.Errorf("NetworkPolicy %s: has rules of a policy type it does not list", np.Name)
		}
	}
	stated := statedFlows(t, r)
	for _, f := range intendedFlows {
		if !slices.Contains(stated, f) {
			t.Errorf("NetworkPolicy: no policy opens %v", f)
		}
	}
	for _, f := range stated {
		if !slices.Contains(intendedFlows, f) {
			t.Errorf("NetworkPolicy: a policy opens %v, which is not an intended flow (intendedFlows)", f)
		}
	}
}

// TestNetworkPolicyIntentCatchesAnExtraFlow: a policy that lets the
// registry call the auth service is refused.
func TestNetworkPolicyIntentCatchesAnExtraFlow(t *testing.T) {
	r := render(t, "base")
	rogue := &networkingv1.NetworkPolicy{}
	rogue.Name = "rogue"
	rogue.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	rogue.Spec.PodSelector.MatchLabels = map[string]string{"app.kubernetes.io/name": "chave", componentLabel: "registry"}
	port := intstr.FromInt32(9090)
	rogue.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "chave", componentLabel: "auth"}}}},
		Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
	}}
	r.netpols = append(r.netpols, rogue)
	if !slices.Contains(statedFlows(t, r), flow{"registry", "out", "auth", "TCP/9090"}) {
		t.Fatal("the rogue policy's flow was not read")
	}
	if slices.Contains(intendedFlows, flow{"registry", "out", "auth", "TCP/9090"}) {
		t.Fatal("registry → auth is an intended flow")
	}
}

func checkOverlay(t *testing.T, r *rendered, e expectation) {
	t.Helper()
	for _, o := range r.objects {
		if strings.HasPrefix(o.id, "v1/Namespace/") {
			if o.meta.Name != e.namespace {
				t.Errorf("%s: want Namespace %s", o.id, e.namespace)
			}
			continue
		}
		if o.meta.Namespace != e.namespace {
			t.Errorf("%s: namespace %q, want %q", o.id, o.meta.Namespace, e.namespace)
		}
	}
	if len(r.namespaces) != 1 {
		t.Errorf("want the overlay's Namespace rendered once, got %d", len(r.namespaces))
	}
	for _, d := range r.deployments {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != e.replicas {
			t.Errorf("Deployment %s: want %d replicas", d.Name, e.replicas)
		}
	}
	for _, h := range r.hpas {
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != e.hpaMin || h.Spec.MaxReplicas != e.hpaMax {
			t.Errorf("HorizontalPodAutoscaler %s: want min %d max %d", h.Name, e.hpaMin, e.hpaMax)
		}
	}
	for _, p := range r.pdbs {
		// A budget keeps minKept pods, yet never blocks every eviction (a
		// node drain would hang).
		kept := -1
		switch {
		case p.Spec.MaxUnavailable != nil:
			if v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(e.replicas), true); err == nil {
				kept = max(int(e.replicas)-v, 0)
			}
		case p.Spec.MinAvailable != nil:
			if v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(e.replicas), true); err == nil {
				kept = v
			}
		}
		if kept < e.minKept || kept >= int(e.replicas) {
			t.Errorf("PodDisruptionBudget %s keeps %d of %d pods, want at least %d and at most %d",
				p.Name, kept, e.replicas, e.minKept, e.replicas-1)
		}
	}
	var settings *corev1.ConfigMap
	for _, cm := range r.configMaps {
		if strings.HasPrefix(cm.Name, "chave-settings-") {
			settings = cm
		}
	}
	if settings == nil {
		t.Fatal("no chave-settings ConfigMap")
	}
	if got := settings.Data["CHAVE_LOG_LEVEL"]; got != e.logLevel {
		t.Errorf("CHAVE_LOG_LEVEL = %q, want %q", got, e.logLevel)
	}
	if !strings.HasPrefix(settings.Data["CHAVE_ISSUER"], "https://") {
		t.Errorf("CHAVE_ISSUER = %q, want an https URL", settings.Data["CHAVE_ISSUER"])
	}
}

// TestCatalogCopy keeps base/contexts.json, the catalog the ConfigMap is
// generated from, identical to the one chave ships.
func TestCatalogCopy(t *testing.T) {
	shipped, err := os.ReadFile("../services/internal/chave/contexts.json")
	if err != nil {
		t.Skipf("shipped catalog not beside this module: %v", err)
	}
	copied, err := os.ReadFile("base/contexts.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shipped, copied) {
		t.Error("deploy/base/contexts.json differs from services/internal/chave/contexts.json: cp services/internal/chave/contexts.json deploy/base/contexts.json")
	}
	if !json.Valid(copied) {
		t.Error("deploy/base/contexts.json is not valid JSON")
	}
}

// TestStrictDecodingCatchesTypos proves the decoding is strict: a field
// misspelt, or spelt in the wrong case, fails.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 1}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {Replicas: 1}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{name: a, port: 1, targetport: 2}]}\n",
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {url: postgres://}\n",
	} {
		if err := (&rendered{}).add([]byte(doc)); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}
	if err := (&rendered{}).add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 1}\n")); err != nil {
		t.Errorf("rejected a valid Deployment: %v", err)
	}
}

// selects reports whether a label selector selects pods with these labels;
// an empty or invalid selector selects nothing here.
func selects(t *testing.T, where string, s *metav1.LabelSelector, l labels.Set) bool {
	t.Helper()
	if s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0) {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Errorf("%s: selector: %v", where, err)
		return false
	}
	return sel.Matches(l)
}
