// The types the API server decodes a pod spec's fields into, checked before
// any rule runs. kubectl sends a manifest's values as they are written, and
// the API server refuses an object whose field has the wrong JSON type
// (`privileged: "true"`, `runAsUser: "0"`, an env value written as a bare
// number): "cannot unmarshal string into Go struct field
// SecurityContext.privileged of type bool". Such an object never runs, so
// judging it clean would be wrong and judging its rules meaningless: podguard
// check reports it as an error for that object (exit 2) and the webhook
// denies it.
//
// Covered: object metadata (name, namespace, labels, annotations), the pod
// spec's scalar fields, its securityContext, volumes' names and hostPath,
// and every container field the rules read (securityContext, ports, env,
// probes, lifecycle, resources, volumeMounts). Unknown fields are left to
// the API server (it drops them with a warning).
//
// Stateless; safe from any number of threads.
#pragma once

#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/facts/workload.h"
#include "engine/reading/document.h"

namespace podguard {

struct FieldTypeError {
  FieldPath path;  // from the object's root
  Status status;   // invalid input; key() is path.str()
};

// Every field of the object's metadata and pod spec whose value the API
// server would not decode into the field's type. Empty for a valid object.
std::vector<FieldTypeError> check_api_types(const Json& object, const PodView& pod);

}  // namespace podguard
