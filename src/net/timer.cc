#include "net/timer.h"

#include <uv.h>

namespace portcullis::net {

Timer* Timer::create(Loop& loop, std::function<void()> on_fire) {
  auto* t = new Timer;
  t->timer_ = std::make_unique<uv_timer_t>();
  uv_timer_init(loop.native(), t->timer_.get());
  t->timer_->data = t;
  t->on_fire_ = std::move(on_fire);
  return t;
}

Timer::Timer() = default;
Timer::~Timer() = default;

void Timer::start(uint64_t ms, uint64_t repeat_ms) {
  if (!closing_) uv_timer_start(timer_.get(), &Timer::onFire, ms, repeat_ms);
}
void Timer::stop() {
  if (!closing_) uv_timer_stop(timer_.get());
}
void Timer::unref() { uv_unref(reinterpret_cast<uv_handle_t*>(timer_.get())); }

void Timer::close() {
  if (closing_) return;
  closing_ = true;
  on_fire_ = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_.get()), &Timer::onClosed);
}

void Timer::onFire(uv_timer_t* t) {
  auto* self = static_cast<Timer*>(t->data);
  if (self->on_fire_) self->on_fire_();
}

void Timer::onClosed(uv_handle_t* h) { delete static_cast<Timer*>(h->data); }

}  // namespace portcullis::net
