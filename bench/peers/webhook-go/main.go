// Command webhook-go is the webhook peer of the benchmark (DESIGN.md section 8):
// what a user would write with kubebuilder instead of mcp-webhook. It serves
// the same two paths with sigs.k8s.io/controller-runtime's webhook server and
// its typed Defaulter/Validator handlers, and applies the same MCPServer
// defaults and value rules (DESIGN.md section 2) with apimachinery's
// validation helpers, so a review costs what it costs in a Go operator.
//
// TLS as mcp-webhook: TLS >= 1.2, ECDHE with AEAD ciphers only for TLS 1.2,
// ALPN http/1.1 only (the kubebuilder scaffold's "disable HTTP/2" option).
//
// usage: webhook-go CERT KEY PORT
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

var groupVersion = schema.GroupVersion{Group: "toolhive.stacklok.dev", Version: "v1alpha1"}

// ---- the API type (what controller-gen would generate deep copies for) ----

type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

type SecretRef struct {
	Name          string `json:"name"`
	Key           string `json:"key"`
	TargetEnvName string `json:"targetEnvName,omitempty"`
}

type Volume struct {
	Name      string `json:"name"`
	HostPath  string `json:"hostPath"`
	MountPath string `json:"mountPath"`
	ReadOnly  *bool  `json:"readOnly,omitempty"`
}

type ResourceList struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

type Resources struct {
	Limits   ResourceList `json:"limits,omitempty"`
	Requests ResourceList `json:"requests,omitempty"`
}

type PermissionProfile struct {
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
	Key  string `json:"key,omitempty"`
}

type Override struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Env         []EnvVar          `json:"env,omitempty"`
}

type ResourceOverrides struct {
	ProxyDeployment *Override `json:"proxyDeployment,omitempty"`
	ProxyService    *Override `json:"proxyService,omitempty"`
}

type MCPServerSpec struct {
	Image             string                `json:"image"`
	Transport         string                `json:"transport,omitempty"`
	Port              int32                 `json:"port,omitempty"`
	TargetPort        int32                 `json:"targetPort,omitempty"`
	Args              []string              `json:"args,omitempty"`
	Env               []EnvVar              `json:"env,omitempty"`
	Secrets           []SecretRef           `json:"secrets,omitempty"`
	Volumes           []Volume              `json:"volumes,omitempty"`
	Resources         *Resources            `json:"resources,omitempty"`
	PermissionProfile *PermissionProfile    `json:"permissionProfile,omitempty"`
	Tools             []string              `json:"tools,omitempty"`
	ServiceAccount    string                `json:"serviceAccount,omitempty"`
	PodTemplateSpec   *runtime.RawExtension `json:"podTemplateSpec,omitempty"`
	ResourceOverrides *ResourceOverrides    `json:"resourceOverrides,omitempty"`
}

type MCPServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MCPServerSpec  `json:"spec,omitempty"`
	Status            map[string]any `json:"status,omitempty"`
}

// DeepCopyObject: a JSON round trip keeps this file short; controller-runtime
// only calls it when it builds a fresh object, never per review.
func (in *MCPServer) DeepCopyObject() runtime.Object {
	out := &MCPServer{}
	b, _ := json.Marshal(in)
	_ = json.Unmarshal(b, out)
	return out
}

// ---- defaulting (the mutating webhook) ----

type defaulter struct{}

func (defaulter) Default(_ context.Context, s *MCPServer) error {
	sp := &s.Spec
	if sp.Transport == "" {
		sp.Transport = "stdio"
	}
	if sp.Port == 0 {
		sp.Port = 8080
	}
	if sp.TargetPort == 0 && (sp.Transport == "sse" || sp.Transport == "streamable-http") {
		sp.TargetPort = sp.Port
	}
	for i := range sp.Secrets {
		if sp.Secrets[i].TargetEnvName == "" {
			sp.Secrets[i].TargetEnvName = sp.Secrets[i].Key
		}
	}
	for i := range sp.Volumes {
		if sp.Volumes[i].ReadOnly == nil {
			f := false
			sp.Volumes[i].ReadOnly = &f
		}
	}
	if p := sp.PermissionProfile; p != nil && p.Name != "" && p.Type == "" {
		p.Type = "builtin"
	}
	return nil
}

// ---- validation (the validating webhook) ----

const maxItems = 1024

var (
	imageRef  = regexp.MustCompile(`^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)
	secretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

type validator struct{}

func portErrs(p *field.Path, v int32) field.ErrorList {
	if v < 1 || v > 65535 {
		return field.ErrorList{field.Invalid(p, v, "must be between 1 and 65535")}
	}
	return nil
}

func msgErrs(p *field.Path, v string, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(p, v, m))
	}
	return errs
}

func absPath(p *field.Path, v string) field.ErrorList {
	if !filepath.IsAbs(v) {
		return field.ErrorList{field.Invalid(p, v, "must be an absolute path")}
	}
	for _, part := range strings.Split(v, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, v, "must not contain '..'")}
		}
	}
	return nil
}

func quantity(p *field.Path, v string) (*resource.Quantity, field.ErrorList) {
	if v == "" {
		return nil, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(p, v, err.Error())}
	}
	return &q, nil
}

func depth(v any) int {
	switch t := v.(type) {
	case map[string]any:
		d := 0
		for _, c := range t {
			d = max(d, depth(c))
		}
		return d + 1
	case []any:
		d := 0
		for _, c := range t {
			d = max(d, depth(c))
		}
		return d + 1
	}
	return 0
}

func validateOverride(p *field.Path, o *Override) field.ErrorList {
	if o == nil {
		return nil
	}
	errs := metavalidation.ValidateLabels(o.Labels, p.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(o.Annotations, p.Child("annotations"))...)
	for i, e := range o.Env {
		errs = append(errs, msgErrs(p.Child("env").Index(i).Child("name"), e.Name, validation.IsEnvVarName(e.Name))...)
	}
	return errs
}

// validate checks the object as the mutating webhook leaves it (defaults
// applied), as mcp-webhook does.
func validate(s *MCPServer) (admission.Warnings, error) {
	_ = defaulter{}.Default(context.Background(), s)
	var errs field.ErrorList
	var warns admission.Warnings
	sp := &s.Spec
	spec := field.NewPath("spec")

	if msgs := validation.IsDNS1035Label(s.Name); len(msgs) > 0 {
		errs = append(errs, msgErrs(field.NewPath("metadata", "name"), s.Name, msgs)...)
	} else if len(s.Name) > 50 {
		errs = append(errs, field.TooLong(field.NewPath("metadata", "name"), s.Name, 50))
	}
	if sp.Image == "" {
		errs = append(errs, field.Required(spec.Child("image"), ""))
	} else if !imageRef.MatchString(sp.Image) {
		errs = append(errs, field.Invalid(spec.Child("image"), sp.Image, "must be a valid image reference"))
	}
	switch sp.Transport {
	case "stdio", "sse", "streamable-http":
	default:
		errs = append(errs, field.NotSupported(spec.Child("transport"), sp.Transport, []string{"stdio", "sse", "streamable-http"}))
	}
	errs = append(errs, portErrs(spec.Child("port"), sp.Port)...)
	if sp.TargetPort != 0 {
		errs = append(errs, portErrs(spec.Child("targetPort"), sp.TargetPort)...)
		if sp.Transport == "stdio" {
			warns = append(warns, "spec.targetPort is ignored with transport stdio")
		}
	}
	if len(sp.Args) > maxItems {
		errs = append(errs, field.TooMany(spec.Child("args"), len(sp.Args), maxItems))
	}

	targets := make(map[string]bool, len(sp.Env)+len(sp.Secrets))
	if len(sp.Env) > maxItems {
		errs = append(errs, field.TooMany(spec.Child("env"), len(sp.Env), maxItems))
	} else {
		for i, e := range sp.Env {
			p := spec.Child("env").Index(i).Child("name")
			if e.Name == "" {
				errs = append(errs, field.Required(p, ""))
				continue
			}
			errs = append(errs, msgErrs(p, e.Name, validation.IsEnvVarName(e.Name))...)
			if targets[e.Name] {
				errs = append(errs, field.Duplicate(p, e.Name))
			}
			targets[e.Name] = true
		}
	}
	if len(sp.Secrets) > maxItems {
		errs = append(errs, field.TooMany(spec.Child("secrets"), len(sp.Secrets), maxItems))
	} else {
		for i, sec := range sp.Secrets {
			p := spec.Child("secrets").Index(i)
			errs = append(errs, msgErrs(p.Child("name"), sec.Name, validation.IsDNS1123Subdomain(sec.Name))...)
			if !secretKey.MatchString(sec.Key) {
				errs = append(errs, field.Invalid(p.Child("key"), sec.Key, "must consist of alphanumeric characters, '-', '_' or '.'"))
			}
			errs = append(errs, msgErrs(p.Child("targetEnvName"), sec.TargetEnvName, validation.IsEnvVarName(sec.TargetEnvName))...)
			if targets[sec.TargetEnvName] {
				errs = append(errs, field.Duplicate(p.Child("targetEnvName"), sec.TargetEnvName))
			}
			targets[sec.TargetEnvName] = true
		}
	}
	if len(sp.Volumes) > maxItems {
		errs = append(errs, field.TooMany(spec.Child("volumes"), len(sp.Volumes), maxItems))
	} else {
		names := map[string]bool{}
		mounts := map[string]bool{}
		for i, v := range sp.Volumes {
			p := spec.Child("volumes").Index(i)
			errs = append(errs, msgErrs(p.Child("name"), v.Name, validation.IsDNS1123Label(v.Name))...)
			if names[v.Name] {
				errs = append(errs, field.Duplicate(p.Child("name"), v.Name))
			}
			names[v.Name] = true
			errs = append(errs, absPath(p.Child("hostPath"), v.HostPath)...)
			errs = append(errs, absPath(p.Child("mountPath"), v.MountPath)...)
			if v.MountPath == "/" {
				errs = append(errs, field.Invalid(p.Child("mountPath"), v.MountPath, "must not be /"))
			}
			if mounts[v.MountPath] {
				errs = append(errs, field.Duplicate(p.Child("mountPath"), v.MountPath))
			}
			mounts[v.MountPath] = true
			warns = append(warns, "spec.volumes["+strconv.Itoa(i)+"].hostPath: hostPath volumes give the MCP server access to the node's files")
		}
	}
	if r := sp.Resources; r != nil {
		p := spec.Child("resources")
		for _, k := range []struct {
			name       string
			limit, req string
		}{{"cpu", r.Limits.CPU, r.Requests.CPU}, {"memory", r.Limits.Memory, r.Requests.Memory}} {
			l, e1 := quantity(p.Child("limits", k.name), k.limit)
			q, e2 := quantity(p.Child("requests", k.name), k.req)
			errs = append(append(errs, e1...), e2...)
			if l != nil && q != nil && q.Cmp(*l) > 0 {
				errs = append(errs, field.Invalid(p.Child("requests", k.name), k.req, "must be less than or equal to "+k.name+" limit of "+k.limit))
			}
		}
	}
	hostNetwork := false
	if pt := sp.PodTemplateSpec; pt != nil && len(pt.Raw) > 0 {
		var v any
		if err := json.Unmarshal(pt.Raw, &v); err != nil {
			errs = append(errs, field.Invalid(spec.Child("podTemplateSpec"), "", err.Error()))
		} else if m, ok := v.(map[string]any); !ok {
			errs = append(errs, field.Invalid(spec.Child("podTemplateSpec"), "", "must be an object"))
		} else {
			if depth(m) > 32 {
				errs = append(errs, field.Invalid(spec.Child("podTemplateSpec"), "", "must be nested at most 32 levels deep"))
			}
			if ps, ok := m["spec"].(map[string]any); ok {
				hostNetwork, _ = ps["hostNetwork"].(bool)
			}
		}
	}
	if pp := sp.PermissionProfile; pp == nil {
		warns = append(warns, "spec.permissionProfile is not set: the MCP server gets the default network access")
	} else {
		p := spec.Child("permissionProfile")
		switch pp.Type {
		case "builtin":
			if pp.Name != "network" && pp.Name != "none" {
				errs = append(errs, field.NotSupported(p.Child("name"), pp.Name, []string{"network", "none"}))
			}
			if pp.Name == "none" && hostNetwork {
				errs = append(errs, field.Forbidden(p, "profile none contradicts podTemplateSpec.spec.hostNetwork: true"))
			}
		case "configmap":
			errs = append(errs, msgErrs(p.Child("name"), pp.Name, validation.IsDNS1123Subdomain(pp.Name))...)
			if pp.Key == "" {
				errs = append(errs, field.Required(p.Child("key"), ""))
			}
			if hostNetwork {
				errs = append(errs, field.Forbidden(p, "a ConfigMap profile contradicts podTemplateSpec.spec.hostNetwork: true"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), pp.Type, []string{"builtin", "configmap"}))
		}
	}
	if len(sp.Tools) > maxItems {
		errs = append(errs, field.TooMany(spec.Child("tools"), len(sp.Tools), maxItems))
	} else {
		seen := map[string]bool{}
		for i, t := range sp.Tools {
			if t == "" {
				errs = append(errs, field.Required(spec.Child("tools").Index(i), ""))
			} else if seen[t] {
				errs = append(errs, field.Duplicate(spec.Child("tools").Index(i), t))
			}
			seen[t] = true
		}
	}
	if sp.ServiceAccount != "" {
		errs = append(errs, msgErrs(spec.Child("serviceAccount"), sp.ServiceAccount, validation.IsDNS1123Subdomain(sp.ServiceAccount))...)
	}
	if ro := sp.ResourceOverrides; ro != nil {
		errs = append(errs, validateOverride(spec.Child("resourceOverrides", "proxyDeployment"), ro.ProxyDeployment)...)
		errs = append(errs, validateOverride(spec.Child("resourceOverrides", "proxyService"), ro.ProxyService)...)
	}
	if len(errs) == 0 {
		return warns, nil
	}
	return warns, apierrors.NewInvalid(schema.GroupKind{Group: groupVersion.Group, Kind: "MCPServer"}, s.Name, errs)
}

func (validator) ValidateCreate(_ context.Context, s *MCPServer) (admission.Warnings, error) {
	return validate(s)
}

func (validator) ValidateUpdate(_ context.Context, old, s *MCPServer) (admission.Warnings, error) {
	if s.DeletionTimestamp != nil {
		return nil, nil
	}
	ob, _ := json.Marshal(old.Spec)
	nb, _ := json.Marshal(s.Spec)
	if string(ob) == string(nb) {
		return nil, nil // ratchet: an unchanged spec is always allowed
	}
	return validate(s)
}

func (validator) ValidateDelete(context.Context, *MCPServer) (admission.Warnings, error) {
	return nil, nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: webhook-go CERT KEY PORT")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad port:", os.Args[3])
		os.Exit(2)
	}
	scheme := runtime.NewScheme()
	scheme.AddKnownTypes(groupVersion, &MCPServer{})
	metav1.AddToGroupVersion(scheme, groupVersion)

	cert, key := os.Args[1], os.Args[2]
	srv := webhook.NewServer(webhook.Options{
		Host:     "127.0.0.1",
		Port:     port,
		CertDir:  filepath.Dir(cert),
		CertName: filepath.Base(cert),
		KeyName:  filepath.Base(key),
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,
			}
			c.NextProtos = []string{"http/1.1"}
		}},
	})
	srv.Register("/mutate-toolhive-stacklok-dev-v1alpha1-mcpserver",
		admission.WithDefaulter[*MCPServer](scheme, defaulter{}))
	srv.Register("/validate-toolhive-stacklok-dev-v1alpha1-mcpserver",
		admission.WithValidator[*MCPServer](scheme, validator{}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "webhook-go:", err)
		os.Exit(1)
	}
}
