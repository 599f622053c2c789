package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// AnnotationSpecHash records a hash of what the operator last wrote into an owned object. An
// object is updated when the hash changes (the spec asked for something new, including the
// removal of a field) or when the object drifted from what the operator wants (someone edited
// it). Comparing only fields the operator sets, never the API server's defaults, is what lets a
// reconcile of an unchanged spec issue no writes.
const AnnotationSpecHash = "vmcp.dev/spec-hash"

// ownedObject is an object the reconciler creates and keeps in line with a VirtualMCPServer.
type ownedObject[T client.Object] struct {
	desired T
	// content is what the hash covers: the part of desired the operator sets.
	content any
	// drifted reports whether existing no longer carries what desired sets.
	drifted func(existing, desired T) bool
	// copyInto makes existing carry what desired sets, keeping fields the API server owns.
	copyInto func(existing, desired T)
}

// notOwnedError says an object with the wanted name exists but belongs to someone else.
type notOwnedError struct {
	kind, name string
}

func (e *notOwnedError) Error() string {
	return fmt.Sprintf("%s %q exists and is not controlled by this VirtualMCPServer; rename or delete it", e.kind, e.name)
}

// ensure creates the object or updates it when its hash or content differs; an object in line
// with the spec is not written.
func ensure[T client.Object](ctx context.Context, r *VirtualMCPServerReconciler, owner client.Object,
	kind string, o ownedObject[T]) error {
	hash, err := contentHash(o.content, o.desired.GetLabels())
	if err != nil {
		return err
	}
	o.desired.SetAnnotations(map[string]string{AnnotationSpecHash: hash})

	existing, ok := o.desired.DeepCopyObject().(T)
	if !ok {
		return fmt.Errorf("copy %s: unexpected type", kind)
	}
	key := client.ObjectKeyFromObject(o.desired)
	err = r.Get(ctx, key, existing)
	switch {
	case apierrors.IsNotFound(err):
		if err := controllerutil.SetControllerReference(owner, o.desired, r.Scheme); err != nil {
			return fmt.Errorf("set owner of %s: %w", kind, err)
		}
		err := r.Create(ctx, o.desired)
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) || r.APIReader == nil {
			return fmt.Errorf("create %s %s: %w", kind, o.desired.GetName(), err)
		}
		// The cache only holds objects with the operator's labels: this one exists without
		// them (someone else's, or ours with its labels removed). Read it from the API server.
		if err := r.APIReader.Get(ctx, key, existing); err != nil {
			return fmt.Errorf("get %s %s: %w", kind, key.Name, err)
		}
	case err != nil:
		return fmt.Errorf("get %s %s: %w", kind, o.desired.GetName(), err)
	}
	if !metav1.IsControlledBy(existing, owner) {
		return &notOwnedError{kind: kind, name: existing.GetName()}
	}

	labelsOK := hasAll(existing.GetLabels(), o.desired.GetLabels())
	if existing.GetAnnotations()[AnnotationSpecHash] == hash && labelsOK && !o.drifted(existing, o.desired) {
		return nil
	}
	o.copyInto(existing, o.desired)
	existing.SetLabels(mergeMaps(existing.GetLabels(), o.desired.GetLabels()))
	existing.SetAnnotations(mergeMaps(existing.GetAnnotations(), o.desired.GetAnnotations()))
	if err := r.Update(ctx, existing); err != nil {
		return fmt.Errorf("update %s %s: %w", kind, existing.GetName(), err)
	}
	return nil
}

// notDerivative reports drift: desired sets something existing does not carry. Fields desired
// leaves empty (and the API server defaults) are ignored.
func notDerivative(desired, existing any) bool {
	return !equality.Semantic.DeepDerivative(desired, existing)
}

func contentHash(parts ...any) (string, error) {
	data, err := json.Marshal(parts)
	if err != nil {
		return "", fmt.Errorf("hash desired object: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func mergeMaps(base, overlay map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, overlay)
	return out
}
