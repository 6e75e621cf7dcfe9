// A cancellation token any thread may trigger at any time. Long operations
// poll it (network transfers at least once a second) and return
// Error(cancelled) after cleaning up what they created.
#pragma once

#include <atomic>
#include <memory>

namespace kiln {

class CancelToken {
 public:
  CancelToken() : state_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() noexcept { state_->store(true, std::memory_order_release); }
  bool cancelled() const noexcept { return state_->load(std::memory_order_acquire); }
  // Throws Error(cancelled) if triggered.
  void check() const;

 private:
  std::shared_ptr<std::atomic<bool>> state_;  // shared: copies observe one flag
};

}  // namespace kiln
