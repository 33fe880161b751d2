// A growable FIFO ring used by the dispatcher-side containers. Unlike std::deque it keeps its storage when it
// empties, so a steady load allocates nothing; capacity doubles when full.
#pragma once

#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

template <class T>
class ring {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  const T& front() const noexcept { return storage_[head_]; }
  T& front() noexcept { return storage_[head_]; }
  const T& operator[](std::size_t i) const noexcept { return storage_[wrap(head_ + i)]; }
  T& operator[](std::size_t i) noexcept { return storage_[wrap(head_ + i)]; }

  void reserve(std::size_t n) {
    if (n > storage_.size()) regrow(n);
  }

  // Takes a reference and keeps the growth out of line: this runs once per request on the dispatcher, and a
  // by-value entry passed to an out-of-line call was stored to the stack in halves and reloaded whole (a
  // store-forwarding stall that perf put at a quarter of the drain).
  void push_back(const T& value) {
    if (size_ == storage_.size()) [[unlikely]]
      grow();
    storage_[wrap(head_ + size_)] = value;
    ++size_;
  }

  T pop_front() {
    T value = std::move(storage_[head_]);
    head_ = wrap(head_ + 1);
    --size_;
    return value;
  }

  // Appends the first n elements (n <= size()) to `out`, in order, and removes them: at most two contiguous
  // copies instead of n pops.
  template <class Out>
  void pop_front_into(std::size_t n, Out& out) {
    const auto base = storage_.begin();
    const std::size_t before_end = std::min(n, storage_.size() - head_);
    out.insert(out.end(), std::make_move_iterator(base + static_cast<std::ptrdiff_t>(head_)),
               std::make_move_iterator(base + static_cast<std::ptrdiff_t>(head_ + before_end)));
    out.insert(out.end(), std::make_move_iterator(base),
               std::make_move_iterator(base + static_cast<std::ptrdiff_t>(n - before_end)));
    head_ = wrap(head_ + n);
    size_ -= n;
  }

  // Removes, in order, every element for which pred holds, handing each to sink. Keeps the others' order.
  template <class Pred, class Sink>
  void erase_if(Pred&& pred, Sink&& sink) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      T& element = (*this)[i];
      if (pred(std::as_const(element))) {
        sink(std::as_const(element));
      } else {
        if (kept != i) (*this)[kept] = std::move(element);
        ++kept;
      }
    }
    size_ = kept;
  }

 private:
  std::size_t wrap(std::size_t i) const noexcept { return i >= storage_.size() ? i - storage_.size() : i; }

  [[gnu::noinline]] void grow() { regrow(storage_.empty() ? 16 : storage_.size() * 2); }

  void regrow(std::size_t capacity) {
    std::vector<T> grown(capacity);
    for (std::size_t i = 0; i < size_; ++i) grown[i] = std::move((*this)[i]);
    storage_ = std::move(grown);
    head_ = 0;
  }

  std::vector<T> storage_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
