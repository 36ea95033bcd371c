// The thread that drains the BPF ring buffer and hands whole batches to JavaScript.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

struct ring_buffer;

namespace droptrace {

class RingPump {
 public:
  // Starts the pump thread on the ring buffer map `ring_fd`; `on_batch(buffer)` runs on the main
  // thread once per batch of whole records. Main thread.
  RingPump(Napi::Env env, int ring_fd, Napi::Function on_batch, size_t max_pending_bytes, size_t batch_bytes,
           int poll_ms);
  // Stops and joins the thread. Main thread.
  ~RingPump();
  RingPump(const RingPump&) = delete;
  RingPump& operator=(const RingPump&) = delete;

  // While paused (or while JS has more than max_pending_bytes unhandled), the pump stops draining:
  // the ring fills and the kernel counts what it cannot deliver, so loss is counted in one place. Any thread.
  void SetPaused(bool paused) { paused_ = paused; }
  uint64_t batches() const { return batches_; }

 private:
  // Appends a record; hands the batch over when it reaches batch_bytes, and stops draining (the
  // record stays in the ring) while JS has max_pending_bytes unhandled. Pump thread.
  static int OnSample(void* ctx, void* data, size_t size);
  void Run();    // pump thread
  void Flush();  // pump thread

  struct ring_buffer* ring_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::vector<uint8_t> batch_;
  std::shared_ptr<std::atomic<size_t>> pending_bytes_;
  size_t max_pending_bytes_;
  size_t batch_bytes_;
  int poll_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> batches_{0};
  std::thread thread_;
};

}  // namespace droptrace
