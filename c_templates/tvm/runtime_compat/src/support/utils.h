// convc: string helpers used by the TVM runtime sources (see ../../README.txt).
#ifndef CONVC_TVM_SUPPORT_UTILS_H_
#define CONVC_TVM_SUPPORT_UTILS_H_

#include <cctype>
#include <string>

namespace tvm {
namespace support {

// True when `s` is a non-empty string of decimal digits.
inline bool IsNumber(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!std::isdigit(c)) return false;
  }
  return true;
}

}  // namespace support
}  // namespace tvm

#endif  // CONVC_TVM_SUPPORT_UTILS_H_
