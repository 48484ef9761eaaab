// Helpers the image rules share for judging an image's config.
//
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "engine/facts/image_facts.h"
#include "engine/reading/document.h"

namespace podguard::rules {

// config.<field>: where a finding about a config field points.
inline FieldPath config_path(std::string_view field) {
  FieldPath p;
  p.push_key("config").push_key(field);
  return p;
}

// history[i].created_by
inline FieldPath history_path(std::size_t i) {
  FieldPath p;
  p.push_key("history").push_index(i).push_key("created_by");
  return p;
}

// "the image docker.io/library/nginx@sha256:... (linux/amd64)" for
// messages; the platform only for a multi-platform image.
inline std::string image_phrase(const ImageFacts& facts, const PlatformImage& image) {
  std::string out = "the image";
  if (facts.multi_platform) out += " for " + image.platform.to_string();
  return out;
}

}  // namespace podguard::rules
