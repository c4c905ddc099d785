// convc: base64 streams used by the TVM runtime sources to put tensors into JSON
// (see ../../README.txt). Standard alphabet, '=' padding, whitespace skipped on input.
#ifndef CONVC_TVM_SUPPORT_BASE64_H_
#define CONVC_TVM_SUPPORT_BASE64_H_

#include <tvm/support/io.h>

#include <cstdint>
#include <cstring>

namespace tvm {
namespace support {

namespace convc_base64 {
inline const char* Alphabet() { return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"; }
// 0..63 for a base64 digit, 64 for '=', 65 for whitespace, 66 for anything else.
inline int Decode(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  if (c == '=') return 64;
  if (c == ' ' || c == '\n' || c == '\r' || c == '\t') return 65;
  return 66;
}
}  // namespace convc_base64

// Decodes base64 text read from another stream.
class Base64InStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;
  explicit Base64InStream(Stream* in) : in_(in) {}
  void InitPosition() { have_ = 0; done_ = false; }

  size_t Read(void* ptr, size_t size) final {
    uint8_t* out = static_cast<uint8_t*>(ptr);
    size_t n = 0;
    while (n < size) {
      if (have_ == 0 && !Refill()) break;
      out[n++] = buf_[3 - have_];
      --have_;
    }
    return n;
  }
  size_t Write(const void*, size_t) final { return 0; }

 private:
  // Decodes the next quantum of 4 digits into up to 3 bytes, right-aligned in buf_.
  bool Refill() {
    if (done_) return false;
    int digits[4];
    int count = 0;
    while (count < 4) {
      char c;
      if (in_->Read(&c, 1) != 1) break;
      const int d = convc_base64::Decode(static_cast<unsigned char>(c));
      if (d == 65) continue;
      if (d == 66) { done_ = true; return false; }
      digits[count++] = d;
    }
    if (count < 4) { done_ = true; return false; }
    int bytes = 3;
    if (digits[3] == 64) { bytes = digits[2] == 64 ? 1 : 2; done_ = true; }
    for (int& d : digits) d = d == 64 ? 0 : d;
    const uint32_t v = (uint32_t(digits[0]) << 18) | (uint32_t(digits[1]) << 12) | (uint32_t(digits[2]) << 6) |
                       uint32_t(digits[3]);
    const uint8_t all[3] = {uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    for (int k = 0; k < bytes; ++k) buf_[3 - bytes + k] = all[k];
    have_ = bytes;
    return true;
  }
  Stream* in_;
  uint8_t buf_[3] = {0, 0, 0};
  int have_ = 0;
  bool done_ = false;
};

// Encodes bytes as base64 text into another stream; call Finish() at the end.
class Base64OutStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;
  explicit Base64OutStream(Stream* out) : out_(out) {}

  size_t Write(const void* ptr, size_t size) final {
    const uint8_t* in = static_cast<const uint8_t*>(ptr);
    for (size_t k = 0; k < size; ++k) {
      pending_[npending_++] = in[k];
      if (npending_ == 3) Flush();
    }
    return size;
  }
  size_t Read(void*, size_t) final { return 0; }
  void Finish() {
    if (npending_ != 0) Flush();
  }

 private:
  void Flush() {
    const char* a = convc_base64::Alphabet();
    const uint32_t v = (uint32_t(pending_[0]) << 16) | (uint32_t(npending_ > 1 ? pending_[1] : 0) << 8) |
                       uint32_t(npending_ > 2 ? pending_[2] : 0);
    const char text[4] = {a[(v >> 18) & 63], a[(v >> 12) & 63], npending_ > 1 ? a[(v >> 6) & 63] : '=',
                          npending_ > 2 ? a[v & 63] : '='};
    out_->Write(text, 4);
    npending_ = 0;
  }
  Stream* out_;
  uint8_t pending_[3] = {0, 0, 0};
  int npending_ = 0;
};

}  // namespace support
}  // namespace tvm

#endif  // CONVC_TVM_SUPPORT_BASE64_H_
