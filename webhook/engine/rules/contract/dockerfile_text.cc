#include "engine/rules/contract/dockerfile_text.h"

#include <algorithm>

namespace podguard::rules {

std::string stage_phrase(const DockerfileFacts& dockerfile, std::size_t stage) {
  const DockerfileStage& final_stage = dockerfile.final_stage();
  const std::string quoted = "\"" + dockerfile.stages()[stage].display_name() + "\"";
  if (stage == final_stage.index) return "the final stage " + quoted;
  const std::vector<std::size_t> lineage = dockerfile.lineage(final_stage.index);
  if (std::find(lineage.begin(), lineage.end(), stage) != lineage.end()) {
    return "stage " + quoted + ", which the final stage \"" + final_stage.display_name() + "\" is built FROM";
  }
  return "stage " + quoted;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ", ";
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "]";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

}  // namespace podguard::rules
