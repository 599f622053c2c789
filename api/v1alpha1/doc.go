// Package v1alpha1 contains the v1alpha1 API of the vmcp.dev group: the VirtualMCPServer kind,
// its condition types and reasons, and the defaults the operator and docs share.
//
// +kubebuilder:object:generate=true
// +groupName=vmcp.dev
package v1alpha1
