#include "registry/blob_digest.h"

#include <openssl/evp.h>

namespace podguard::registry {

std::optional<std::string> digest_of(std::string_view data, std::string_view like) {
  const std::string_view algorithm = like.substr(0, like.find(':'));
  const EVP_MD* md = algorithm == "sha256" ? EVP_sha256() : algorithm == "sha512" ? EVP_sha512() : nullptr;
  if (md == nullptr) return std::nullopt;
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), hash, &size, md, nullptr) != 1) return std::nullopt;
  static const char* kHex = "0123456789abcdef";
  std::string out(algorithm);
  out += ':';
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[hash[i] >> 4];
    out += kHex[hash[i] & 15];
  }
  return out;
}

}  // namespace podguard::registry
