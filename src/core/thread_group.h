#pragma once

#include <functional>
#include <thread>
#include <vector>

namespace eden {

/// The one way eden runs N threads of the same body: Spawn starts them, Join (or the destructor)
/// waits for all of them. Used by the in-process executor, `eden convert` and the Celery worker.
/// Not a task queue: each thread runs its body to the end (its own loop over a queue).
/// @par Thread-safety Spawn and Join from one thread.
class ThreadGroup {
 public:
  ThreadGroup() = default;
  ~ThreadGroup() { Join(); }
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;

  /// Starts `count` threads running body(index), index 0..count-1 within this call.
  void Spawn(unsigned count, const std::function<void(unsigned index)>& body) {
    for (unsigned i = 0; i < count; ++i) threads_.emplace_back(body, i);
  }
  void Join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }
  size_t size() const { return threads_.size(); }

 private:
  std::vector<std::thread> threads_;
};

}  // namespace eden
