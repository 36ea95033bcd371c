#include "ring-pump.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace droptrace {

void BatchQueue::Push(std::vector<uint8_t> batch) {
  std::lock_guard<std::mutex> lock(mu);
  bytes += batch.size();
  batches.push_back(std::move(batch));
}

std::vector<uint8_t> BatchQueue::Fresh(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!spare.empty()) {
      std::vector<uint8_t> batch = std::move(spare.back());
      spare.pop_back();
      return batch;
    }
  }
  std::vector<uint8_t> batch;
  batch.reserve(bytes);
  return batch;
}

void BatchQueue::Recycle(std::vector<uint8_t> batch) {
  batch.clear();
  std::lock_guard<std::mutex> lock(mu);
  if (spare.size() < kMaxSpare) spare.push_back(std::move(batch));
}

std::deque<std::vector<uint8_t>> BatchQueue::Take() {
  std::lock_guard<std::mutex> lock(mu);
  std::deque<std::vector<uint8_t>> out;
  out.swap(batches);
  bytes = 0;
  doorbell = false;
  return out;
}

namespace {

// What a doorbell call carries.
struct Doorbell {
  std::shared_ptr<BatchQueue> queue;
  JsSide* js;
};

// The JS Buffer batches are copied into, at least `bytes` long (a batch can pass batch_bytes by
// one record). Main thread.
Napi::Buffer<uint8_t> ScratchOf(Napi::Env env, JsSide* js, size_t bytes) {
  if (!js->scratch.IsEmpty() && js->scratch.Value().Length() >= bytes) return js->scratch.Value();
  Napi::Buffer<uint8_t> scratch = Napi::Buffer<uint8_t>::New(env, bytes + bytes / 2);
  js->scratch = Napi::Persistent(scratch);
  return scratch;
}

// Main thread: the doorbell. Takes every queued batch and makes one JS call per batch. The bytes
// are copied into the one scratch Buffer, so that nothing native is in JS's hands after the call,
// and the batch goes back to the pump to be filled again. An exception from the callback is not
// swallowed (it reaches the process as any uncaught exception would); the batches it kept from JS
// are counted first.
void CallJs(Napi::Env env, Napi::Function on_batch, Doorbell* context) {
  std::unique_ptr<Doorbell> call(context);
  if (env == nullptr) return;  // the function is being torn down
  std::deque<std::vector<uint8_t>> batches = call->queue->Take();
  for (auto it = batches.begin(); it != batches.end(); ++it) {
    Napi::Buffer<uint8_t> scratch = ScratchOf(env, call->js, it->size());
    std::memcpy(scratch.Data(), it->data(), it->size());
    size_t size = it->size();
    call->queue->Recycle(std::move(*it));
    try {
      on_batch.Call({scratch, Napi::Number::New(env, static_cast<double>(size))});
    } catch (...) {
      uint64_t rest = 0;
      for (auto later = std::next(it); later != batches.end(); ++later) rest += later->size();
      call->queue->dropped_bytes += rest;
      throw;
    }
  }
}

}  // namespace

RingPump::RingPump(Napi::Env env, int ring_fd, Napi::Function on_batch, size_t max_pending_bytes, size_t batch_bytes,
                   int poll_ms)
    : queue_(std::make_shared<BatchQueue>()),
      js_(new JsSide()),
      max_pending_bytes_(max_pending_bytes),
      batch_bytes_(batch_bytes),
      poll_ms_(poll_ms) {
  batch_.reserve(batch_bytes_);
  ring_ = ring_buffer__new(ring_fd, OnSample, this, nullptr);
  if (ring_ == nullptr) {
    delete js_;
    throw Napi::Error::New(env, "ring_buffer__new failed");
  }
  tsfn_ = Napi::ThreadSafeFunction::New(
      env, on_batch, "droptrace-ring-pump", 0, 1, [](Napi::Env, JsSide* js) { delete js; }, js_);
  thread_ = std::thread(&RingPump::Run, this);
}

RingPump::~RingPump() {
  Join();
  ring_buffer__free(ring_);
  tsfn_.Release();
}

void RingPump::Join() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::deque<std::vector<uint8_t>> RingPump::Drain() {
  Join();
  draining_ = true;
  ring_buffer__consume(ring_);
  Flush();
  return queue_->Take();
}

int RingPump::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingPump*>(ctx);
  auto* bytes = static_cast<uint8_t*>(data);
  self->batch_.insert(self->batch_.end(), bytes, bytes + size);
  if (self->batch_.size() >= self->batch_bytes_) self->Flush();
  // libbpf commits the records consumed so far and stops: the rest waits in the ring
  if (!self->draining_ && self->queue_->bytes.load() > self->max_pending_bytes_) return -EAGAIN;
  return 0;
}

void RingPump::Run() {
  bool busy = false;
  while (!stop_) {
    if (paused_ || queue_->bytes.load() > max_pending_bytes_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms_));
      continue;
    }
    // Producers wake us only when the ring was empty or crosses wakeup_bytes. Idle: block in
    // epoll until the first event. Busy: let events gather for poll_ms without any wake-up, then
    // drain them in one go.
    int n = 0;
    if (busy) {
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms_));
    } else {
      n = ring_buffer__poll(ring_, kIdleWaitMs);
      if (n < 0 && n != -EINTR && n != -EAGAIN) break;
    }
    int m = ring_buffer__consume(ring_);
    if (m < 0 && m != -EAGAIN) break;
    busy = n > 0 || m > 0 || m == -EAGAIN;
    Flush();
  }
}

void RingPump::Flush() {
  if (batch_.empty()) return;
  std::vector<uint8_t> batch = queue_->Fresh(batch_bytes_);
  batch.swap(batch_);
  queue_->Push(std::move(batch));
  if (draining_ || queue_->doorbell.exchange(true)) return;
  auto* context = new Doorbell{queue_, js_};
  if (tsfn_.NonBlockingCall(context, CallJs) != napi_ok) {
    queue_->doorbell = false;
    delete context;
  }
}

}  // namespace droptrace
