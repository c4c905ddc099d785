// convc: Serializer<T> for the types the TVM runtime reads and writes (see ../../../README.txt).
// Layout: scalars as their little-endian bytes; std::string / ffi::String / std::vector /
// ffi::Array / maps as a uint64 element count followed by the elements; pairs as first, second;
// DLDataType as code (u8), bits (u8), lanes (u16); DLDevice as type (i32), id (i32).
#ifndef CONVC_TVM_SUPPORT_SERIALIZER_H_
#define CONVC_TVM_SUPPORT_SERIALIZER_H_

#include <dlpack/dlpack.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/endian.h>
#include <tvm/ffi/string.h>
#include <tvm/support/io.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

static_assert(TVM_FFI_IO_NO_ENDIAN_SWAP, "convc's runtime build supports little-endian machines only");

namespace tvm {
namespace support {

namespace convc_detail {
inline bool ReadCount(Stream* s, uint64_t* n) { return s->Read(n, sizeof(*n)) == sizeof(*n); }
inline void WriteCount(Stream* s, uint64_t n) { s->Write(&n, sizeof(n)); }
}  // namespace convc_detail

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_arithmetic_v<T>>> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const T& v) { s->Write(&v, sizeof(T)); }
  static bool Read(Stream* s, T* v) { return s->Read(v, sizeof(T)) == sizeof(T); }
};

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_enum_v<T>>> {
  static constexpr bool enabled = true;
  using Base = std::underlying_type_t<T>;
  static void Write(Stream* s, const T& v) { Serializer<Base>::Write(s, static_cast<Base>(v)); }
  static bool Read(Stream* s, T* v) {
    Base b;
    if (!Serializer<Base>::Read(s, &b)) return false;
    *v = static_cast<T>(b);
    return true;
  }
};

template <>
struct Serializer<std::string> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const std::string& v) {
    convc_detail::WriteCount(s, v.size());
    if (!v.empty()) s->Write(v.data(), v.size());
  }
  static bool Read(Stream* s, std::string* v) {
    uint64_t n;
    if (!convc_detail::ReadCount(s, &n)) return false;
    v->assign(static_cast<size_t>(n), '\0');
    return n == 0 || s->Read(&(*v)[0], v->size()) == v->size();
  }
};

template <>
struct Serializer<ffi::String> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const ffi::String& v) {
    convc_detail::WriteCount(s, v.size());
    if (v.size() != 0) s->Write(v.data(), v.size());
  }
  static bool Read(Stream* s, ffi::String* v) {
    std::string tmp;
    if (!Serializer<std::string>::Read(s, &tmp)) return false;
    *v = ffi::String(std::move(tmp));
    return true;
  }
};

template <typename T>
struct Serializer<std::vector<T>> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const std::vector<T>& v) {
    convc_detail::WriteCount(s, v.size());
    if constexpr (std::is_arithmetic_v<T>) {
      if (!v.empty()) s->Write(v.data(), v.size() * sizeof(T));
    } else {
      for (const T& e : v) Serializer<T>::Write(s, e);
    }
  }
  static bool Read(Stream* s, std::vector<T>* v) {
    uint64_t n;
    if (!convc_detail::ReadCount(s, &n)) return false;
    v->resize(static_cast<size_t>(n));
    if constexpr (std::is_arithmetic_v<T>) {
      return n == 0 || s->Read(v->data(), v->size() * sizeof(T)) == v->size() * sizeof(T);
    } else {
      for (T& e : *v) {
        if (!Serializer<T>::Read(s, &e)) return false;
      }
      return true;
    }
  }
};

template <typename A, typename B>
struct Serializer<std::pair<A, B>> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const std::pair<A, B>& v) {
    Serializer<A>::Write(s, v.first);
    Serializer<B>::Write(s, v.second);
  }
  static bool Read(Stream* s, std::pair<A, B>* v) {
    return Serializer<A>::Read(s, &v->first) && Serializer<B>::Read(s, &v->second);
  }
};

template <typename K, typename V>
struct Serializer<std::unordered_map<K, V>> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const std::unordered_map<K, V>& v) {
    Serializer<std::vector<std::pair<K, V>>>::Write(s, std::vector<std::pair<K, V>>(v.begin(), v.end()));
  }
  static bool Read(Stream* s, std::unordered_map<K, V>* v) {
    std::vector<std::pair<K, V>> items;
    if (!Serializer<std::vector<std::pair<K, V>>>::Read(s, &items)) return false;
    v->clear();
    v->insert(items.begin(), items.end());
    return true;
  }
};

template <typename T>
struct Serializer<ffi::Array<T>> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const ffi::Array<T>& v) {
    convc_detail::WriteCount(s, v.size());
    for (const T& e : v) Serializer<T>::Write(s, e);
  }
  static bool Read(Stream* s, ffi::Array<T>* v) {
    uint64_t n;
    if (!convc_detail::ReadCount(s, &n)) return false;
    ffi::Array<T> out;
    for (uint64_t k = 0; k < n; ++k) {
      T e;
      if (!Serializer<T>::Read(s, &e)) return false;
      out.push_back(std::move(e));
    }
    *v = std::move(out);
    return true;
  }
};

template <typename K, typename V>
struct Serializer<ffi::Map<K, V>> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const ffi::Map<K, V>& v) {
    convc_detail::WriteCount(s, v.size());
    for (const auto& kv : v) {
      Serializer<K>::Write(s, kv.first);
      Serializer<V>::Write(s, kv.second);
    }
  }
  static bool Read(Stream* s, ffi::Map<K, V>* v) {
    uint64_t n;
    if (!convc_detail::ReadCount(s, &n)) return false;
    ffi::Map<K, V> out;
    for (uint64_t k = 0; k < n; ++k) {
      K key;
      V value;
      if (!Serializer<K>::Read(s, &key) || !Serializer<V>::Read(s, &value)) return false;
      out.Set(std::move(key), std::move(value));
    }
    *v = std::move(out);
    return true;
  }
};

template <>
struct Serializer<DLDataType> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const DLDataType& v) {
    s->Write(&v.code, 1);
    s->Write(&v.bits, 1);
    s->Write(&v.lanes, 2);
  }
  static bool Read(Stream* s, DLDataType* v) {
    return s->Read(&v->code, 1) == 1 && s->Read(&v->bits, 1) == 1 && s->Read(&v->lanes, 2) == 2;
  }
};

template <>
struct Serializer<DLDevice> {
  static constexpr bool enabled = true;
  static void Write(Stream* s, const DLDevice& v) {
    const int32_t type = static_cast<int32_t>(v.device_type), id = v.device_id;
    s->Write(&type, 4);
    s->Write(&id, 4);
  }
  static bool Read(Stream* s, DLDevice* v) {
    int32_t type = 0, id = 0;
    if (s->Read(&type, 4) != 4 || s->Read(&id, 4) != 4) return false;
    v->device_type = static_cast<DLDeviceType>(type);
    v->device_id = id;
    return true;
  }
};

}  // namespace support
}  // namespace tvm

#endif  // CONVC_TVM_SUPPORT_SERIALIZER_H_
