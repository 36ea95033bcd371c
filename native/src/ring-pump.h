// The thread that drains the BPF ring buffer into a bounded queue of batches for JavaScript.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

struct ring_buffer;

namespace droptrace {

// Batches of whole records waiting for JS, shared by the pump thread (producer) and the main thread
// (consumer): it outlives the pump while a doorbell call is still queued.
struct BatchQueue {
  std::mutex mu;
  std::deque<std::vector<uint8_t>> batches;
  // Batches JS has taken, kept for the pump to fill again: a storm makes hundreds a second, and
  // each new one would be a fresh allocation (an mmap and its page faults at this size).
  std::vector<std::vector<uint8_t>> spare;
  std::atomic<size_t> bytes{0};
  std::atomic<bool> doorbell{false};  // a JS call is queued and will take everything
  // Bytes of batches JS never received: the callback threw, and the batches after it in that
  // doorbell call were dropped. Reported as lost, so that nothing disappears unsaid.
  std::atomic<uint64_t> dropped_bytes{0};

  void Push(std::vector<uint8_t> batch);    // any thread
  std::deque<std::vector<uint8_t>> Take();  // any thread
  // An empty batch with room for `bytes`, a spare one when there is one. Any thread.
  std::vector<uint8_t> Fresh(size_t bytes);
  // Keeps a batch JS is done with, up to kMaxSpare of them. Any thread.
  void Recycle(std::vector<uint8_t> batch);

  // More than max_pending_bytes in batches, and the one being filled.
  static constexpr size_t kMaxSpare = 20;
};

// The main thread's side of the doorbell: the one JS Buffer every batch is copied into before
// the call (JS reads a batch only during its call). Owned by the thread-safe function, whose
// finalizer frees it on the main thread once no call is queued.
struct JsSide {
  Napi::Reference<Napi::Buffer<uint8_t>> scratch;
};

class RingPump {
 public:
  // Starts the pump thread on the ring buffer map `ring_fd`; `on_batch(buffer, length)` runs on the
  // main thread once per batch, its records in the first `length` bytes of a Buffer that is reused
  // for the next batch: valid during the call only. Main thread.
  RingPump(Napi::Env env, int ring_fd, Napi::Function on_batch, size_t max_pending_bytes, size_t batch_bytes,
           int poll_ms);
  // Stops and joins the thread. Main thread.
  ~RingPump();
  RingPump(const RingPump&) = delete;
  RingPump& operator=(const RingPump&) = delete;

  // Joins the thread, drains what the ring still holds, and returns every batch not yet handed to
  // JS, so that a stop loses nothing. Call after detaching the programs. Main thread.
  std::deque<std::vector<uint8_t>> Drain();

  // While paused (or while JS has more than max_pending_bytes unhandled), the pump stops draining:
  // the ring fills and the kernel counts what it cannot deliver, so loss is counted in one place. Any thread.
  void SetPaused(bool paused) { paused_ = paused; }

  // Bytes JS never received because its callback threw (see BatchQueue::dropped_bytes). Any thread.
  uint64_t DroppedBytes() const { return queue_->dropped_bytes.load(); }

 private:
  // Longest an idle pump blocks in epoll before it looks at stop_ again.
  static constexpr int kIdleWaitMs = 100;

  // Appends a record; hands the batch over when it reaches batch_bytes, and stops draining (the
  // record stays in the ring) while JS has max_pending_bytes unhandled. Pump thread.
  static int OnSample(void* ctx, void* data, size_t size);
  void Run();    // pump thread
  void Flush();  // pump thread, or main thread once the pump thread is joined
  void Join();   // main thread

  struct ring_buffer* ring_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<BatchQueue> queue_;
  JsSide* js_;  // owned by tsfn_; used on the main thread only
  std::vector<uint8_t> batch_;
  size_t max_pending_bytes_;
  size_t batch_bytes_;
  int poll_ms_;
  bool draining_ = false;  // Drain(): no backpressure, no doorbell
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::thread thread_;
};

}  // namespace droptrace
