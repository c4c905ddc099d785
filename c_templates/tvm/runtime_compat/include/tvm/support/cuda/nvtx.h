// convc: the runtime is built without CUDA, so NVTX ranges are no-ops (see ../../../../README.txt).
#ifndef CONVC_TVM_SUPPORT_CUDA_NVTX_H_
#define CONVC_TVM_SUPPORT_CUDA_NVTX_H_

namespace tvm {
namespace support {

class NVTXScopedRange {
 public:
  template <typename Name>
  explicit NVTXScopedRange(const Name&) {}
  NVTXScopedRange(const NVTXScopedRange&) = delete;
  NVTXScopedRange& operator=(const NVTXScopedRange&) = delete;
};

}  // namespace support
}  // namespace tvm

#endif  // CONVC_TVM_SUPPORT_CUDA_NVTX_H_
