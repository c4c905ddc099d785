// convc: binary stream interface used by the TVM runtime sources (see ../../../README.txt).
#ifndef CONVC_TVM_SUPPORT_IO_H_
#define CONVC_TVM_SUPPORT_IO_H_

#include <cstddef>
#include <cstdint>

namespace tvm {
namespace support {

class Stream;

// Serializer<T> says how a T is written to / read from a Stream; specializations set
// `enabled = true` and provide static Write(Stream*, const T&) and Read(Stream*, T*).
template <typename T, typename = void>
struct Serializer {
  static constexpr bool enabled = false;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Raw bytes; return how many were transferred.
  virtual size_t Read(void* ptr, size_t size) = 0;
  virtual size_t Write(const void* ptr, size_t size) = 0;

  template <typename T>
  void Write(const T& value) {
    static_assert(Serializer<T>::enabled, "type has no Serializer");
    Serializer<T>::Write(this, value);
  }
  template <typename T>
  bool Read(T* out) {
    static_assert(Serializer<T>::enabled, "type has no Serializer");
    return Serializer<T>::Read(this, out);
  }
  template <typename T>
  void WriteArray(const T* values, size_t count) {
    for (size_t k = 0; k < count; ++k) Write<T>(values[k]);
  }
  template <typename T>
  bool ReadArray(T* values, size_t count) {
    for (size_t k = 0; k < count; ++k) {
      if (!Read<T>(values + k)) return false;
    }
    return true;
  }
};

}  // namespace support
}  // namespace tvm

#endif  // CONVC_TVM_SUPPORT_IO_H_
