#include "ring-pump.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <chrono>

namespace droptrace {

namespace {

struct Batch {
  std::vector<uint8_t> bytes;
  std::shared_ptr<std::atomic<size_t>> pending;
};

// Main thread: one JS call per batch. The bytes are copied into a JS Buffer so that nothing native
// outlives the call; the copy is a memcpy per batch, not per event.
void CallJs(Napi::Env env, Napi::Function on_batch, Batch* batch) {
  std::unique_ptr<Batch> owned(batch);
  owned->pending->fetch_sub(owned->bytes.size());
  if (env == nullptr) return;  // the function is being torn down
  on_batch.Call({Napi::Buffer<uint8_t>::Copy(env, owned->bytes.data(), owned->bytes.size())});
}

}  // namespace

RingPump::RingPump(Napi::Env env, int ring_fd, Napi::Function on_batch, size_t max_pending_bytes, size_t batch_bytes,
                   int poll_ms)
    : pending_bytes_(std::make_shared<std::atomic<size_t>>(0)),
      max_pending_bytes_(max_pending_bytes),
      batch_bytes_(batch_bytes),
      poll_ms_(poll_ms) {
  batch_.reserve(batch_bytes_);
  ring_ = ring_buffer__new(ring_fd, OnSample, this, nullptr);
  if (ring_ == nullptr) throw Napi::Error::New(env, "ring_buffer__new failed");
  tsfn_ = Napi::ThreadSafeFunction::New(env, on_batch, "droptrace-ring-pump", 0, 1);
  thread_ = std::thread(&RingPump::Run, this);
}

RingPump::~RingPump() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ring_buffer__free(ring_);
  tsfn_.Release();
}

int RingPump::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingPump*>(ctx);
  auto* bytes = static_cast<uint8_t*>(data);
  self->batch_.insert(self->batch_.end(), bytes, bytes + size);
  if (self->batch_.size() >= self->batch_bytes_) self->Flush();
  // libbpf commits the records consumed so far and stops: the rest waits in the ring
  if (self->pending_bytes_->load() > self->max_pending_bytes_) return -EAGAIN;
  return 0;
}

void RingPump::Run() {
  while (!stop_) {
    if (paused_ || pending_bytes_->load() > max_pending_bytes_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms_));
      continue;
    }
    // Producers submit with BPF_RB_NO_WAKEUP until the ring holds wakeup_bytes: epoll returns on
    // those forced wake-ups or after poll_ms, and consume() then drains what never woke us.
    int err = ring_buffer__poll(ring_, poll_ms_);
    if (err < 0 && err != -EINTR && err != -EAGAIN) break;
    err = ring_buffer__consume(ring_);
    if (err < 0 && err != -EAGAIN) break;
    Flush();
  }
}

void RingPump::Flush() {
  if (batch_.empty()) return;
  auto* batch = new Batch{std::move(batch_), pending_bytes_};
  batch_.clear();
  batch_.reserve(batch_bytes_);
  pending_bytes_->fetch_add(batch->bytes.size());
  if (tsfn_.NonBlockingCall(batch, CallJs) != napi_ok) {
    pending_bytes_->fetch_sub(batch->bytes.size());
    delete batch;
    return;
  }
  batches_++;
}

}  // namespace droptrace
