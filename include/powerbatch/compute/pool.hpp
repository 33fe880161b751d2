// compute::Pool<Alloc> — reusable batch buffers keyed by shape and element size (seed 003's MemoryPool, seed 002's
// max_memory_mb).
//
//   Pool<> pool({.max_bytes = 64 << 20});
//   auto batch = pool.acquire<float>({n, 64});   // a lease: SIMD-aligned, every element 0
//   ...                                           // fill it, run a backend over it
//   // the lease's destructor zeroes the buffer and shelves it for the next batch of that shape
//
// Promises:
// - Zeroed before reuse: a buffer is wiped when its lease ends, before any other batch can get it, so no batch ever
//   reads another's data (and none lingers in an idle pool). A fresh buffer is zeroed too: a lease always starts
//   at all zeros.
// - Bounded: the bytes it holds (leased + shelved) never pass `max_bytes`. A miss that would pass it first frees
//   shelved buffers of other shapes; if the leased ones alone leave no room, acquire() throws std::system_error
//   with errc::pool_exhausted and a message naming the shape and the limit. Nothing is allocated then.
// - Statistics: hits, misses, rejections, evictions, bytes leased / shelved / peak (stats()).
// - Thread-safe: any number of threads acquire and release at once (one mutex, held for bookkeeping only; the
//   allocation and the zeroing run outside it).
// Alloc is a compute::buffer_allocator (aligned_allocator.hpp): aligned host memory by default, CUDA pinned host
// memory for the CUDA backend. A lease must end before its pool is destroyed.
#pragma once

#include <powerbatch/compute/aligned_allocator.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/error.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

struct pool_limits {
  // Bytes the pool may hold, leased and shelved together (seed 002's max_memory_mb × 2^20).
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  // Idle buffers kept per shape (seed 003's max_buffers); one more returned is freed instead.
  std::size_t max_shelved_per_shape = 32;
};

struct pool_stats {
  std::uint64_t hits = 0;         // acquires served by a shelved buffer
  std::uint64_t misses = 0;       // acquires that allocated
  std::uint64_t rejections = 0;   // acquires refused with errc::pool_exhausted
  std::uint64_t evictions = 0;    // shelved buffers freed to make room or because their shelf was full
  std::size_t bytes_leased = 0;   // bytes in buffers currently leased
  std::size_t bytes_shelved = 0;  // bytes in idle buffers waiting for reuse
  std::size_t peak_bytes = 0;     // the most bytes held at once
  std::size_t buffers_leased = 0;
  std::size_t buffers_shelved = 0;
};

// The largest rank a pooled buffer may have; keys live inline so that a hit allocates nothing.
inline constexpr std::size_t pool_max_rank = 6;

template <buffer_allocator Alloc = aligned_allocator>
class Pool {
  struct shape_key {
    std::array<std::size_t, pool_max_rank> dims{};
    std::size_t rank = 0;
    std::size_t element_size = 0;
    friend bool operator==(const shape_key&, const shape_key&) = default;
  };

  struct shelf {
    shape_key key;
    std::size_t bytes = 0;
    std::vector<void*> blocks;
  };

 public:
  using allocator_type = Alloc;

  // A leased buffer of T; gives it back (zeroed) on destruction. Movable, not copyable.
  template <class T>
  class lease {
   public:
    lease() = default;
    lease(lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), data_(other.data_), count_(other.count_), key_(other.key_) {}
    lease& operator=(lease&& other) noexcept {
      if (this != &other) {
        reset();
        pool_ = std::exchange(other.pool_, nullptr);
        data_ = other.data_;
        count_ = other.count_;
        key_ = other.key_;
      }
      return *this;
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { reset(); }

    T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return count_; }  // elements: the product of the shape
    std::size_t bytes() const noexcept { return count_ * sizeof(T); }
    std::span<T> span() const noexcept { return {data_, count_}; }
    std::span<const std::size_t> shape() const noexcept { return {key_.dims.data(), key_.rank}; }
    explicit operator bool() const noexcept { return pool_ != nullptr; }

    // Gives the buffer back now (zeroed); the lease is empty afterwards.
    void reset() noexcept {
      if (pool_ != nullptr) std::exchange(pool_, nullptr)->give_back(data_, key_);
      data_ = nullptr;
      count_ = 0;
    }

   private:
    friend class Pool;
    lease(Pool* pool, T* data, std::size_t count, const shape_key& key)
        : pool_(pool), data_(data), count_(count), key_(key) {}

    Pool* pool_ = nullptr;
    T* data_ = nullptr;
    std::size_t count_ = 0;
    shape_key key_{};
  };

  explicit Pool(pool_limits limits = {}, Alloc allocator = Alloc{}) : limits_(limits), allocator_(std::move(allocator)) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    POWERBATCH_ASSERT(stats_.buffers_leased == 0, "Pool destroyed while a lease is still out");
    for (auto& s : shelves_)
      for (void* block : s.blocks) allocator_.deallocate(block, s.bytes);
  }

  // A zeroed buffer of T with this shape (row-major, aligned to Alloc::alignment). Throws std::system_error:
  // errc::pool_exhausted past the byte limit, errc::invalid_argument for a rank above pool_max_rank or a size that
  // overflows. An empty shape is a scalar (one element); a zero dimension gives an empty buffer.
  template <class T>
  lease<T> acquire(std::span<const std::size_t> shape) {
    static_assert(std::is_trivial_v<T>, "Pool buffers hold trivial types (numbers, plain structs)");
    static_assert(alignof(T) <= Alloc::alignment, "the allocator's alignment is too small for this type");
    const shape_key key = make_key(shape, sizeof(T));
    const std::size_t count = element_count(shape);
    const std::size_t bytes = count * sizeof(T);

    void* block = nullptr;
    {
      std::lock_guard lock(mutex_);
      shelf& own = shelf_for(key, bytes);
      if (!own.blocks.empty()) {
        block = own.blocks.back();
        own.blocks.pop_back();
        ++stats_.hits;
        stats_.bytes_shelved -= bytes;
        --stats_.buffers_shelved;
        stats_.bytes_leased += bytes;
        ++stats_.buffers_leased;
        return lease<T>(this, static_cast<T*>(block), count, key);
      }
      // A miss: make room by freeing other shapes' idle buffers, or refuse.
      if (stats_.bytes_leased + bytes > limits_.max_bytes || bytes > limits_.max_bytes) {
        ++stats_.rejections;
        throw std::system_error(make_error_code(errc::pool_exhausted), exhausted_message(shape, bytes));
      }
      for (auto& s : shelves_) {
        while (held_bytes() + bytes > limits_.max_bytes && !s.blocks.empty()) {
          allocator_.deallocate(s.blocks.back(), s.bytes);
          s.blocks.pop_back();
          stats_.bytes_shelved -= s.bytes;
          --stats_.buffers_shelved;
          ++stats_.evictions;
        }
      }
      ++stats_.misses;
      // Reserve the bytes now so that concurrent misses cannot pass the limit together.
      stats_.bytes_leased += bytes;
      ++stats_.buffers_leased;
      stats_.peak_bytes = std::max(stats_.peak_bytes, held_bytes());
    }
    try {
      block = allocator_.allocate(bytes);
    } catch (...) {
      std::lock_guard lock(mutex_);
      stats_.bytes_leased -= bytes;
      --stats_.buffers_leased;
      throw;
    }
    std::memset(block, 0, bytes);
    return lease<T>(this, static_cast<T*>(block), count, key);
  }

  template <class T>
  lease<T> acquire(std::initializer_list<std::size_t> shape) {
    return acquire<T>(std::span<const std::size_t>(shape.begin(), shape.size()));
  }

  pool_stats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  const pool_limits& limits() const noexcept { return limits_; }

  // Frees every shelved buffer (seed 003's clear()); leased ones are untouched.
  void trim() {
    std::lock_guard lock(mutex_);
    for (auto& s : shelves_) {
      for (void* block : s.blocks) allocator_.deallocate(block, s.bytes);
      stats_.evictions += s.blocks.size();
      stats_.buffers_shelved -= s.blocks.size();
      stats_.bytes_shelved -= s.blocks.size() * s.bytes;
      s.blocks.clear();
    }
  }

 private:
  static shape_key make_key(std::span<const std::size_t> shape, std::size_t element_size) {
    if (shape.size() > pool_max_rank)
      throw std::system_error(make_error_code(errc::invalid_argument),
                              "Pool::acquire: rank " + std::to_string(shape.size()) + " is above pool_max_rank (" +
                                  std::to_string(pool_max_rank) + ")");
    shape_key key;
    std::copy(shape.begin(), shape.end(), key.dims.begin());
    key.rank = shape.size();
    key.element_size = element_size;
    return key;
  }

  static std::size_t element_count(std::span<const std::size_t> shape) {
    std::size_t count = 1;
    for (std::size_t d : shape) {
      if (d != 0 && count > std::numeric_limits<std::size_t>::max() / 16 / d)
        throw std::system_error(make_error_code(errc::invalid_argument), "Pool::acquire: the shape's size overflows");
      count *= d;
    }
    return count;
  }

  std::string exhausted_message(std::span<const std::size_t> shape, std::size_t bytes) const {
    // Built by appending: GCC 12 at -O3 reports a false -Wrestrict on `"literal" + std::string&&`.
    std::string message = "Pool: a buffer of shape [";
    for (std::size_t i = 0; i < shape.size(); ++i) message.append(i ? "x" : "").append(std::to_string(shape[i]));
    message.append("] (").append(std::to_string(bytes)).append(" bytes) would take the pool past its limit of ");
    message.append(std::to_string(limits_.max_bytes)).append(" bytes (");
    message.append(std::to_string(stats_.bytes_leased)).append(" bytes leased)");
    return message;
  }

  std::size_t held_bytes() const noexcept { return stats_.bytes_leased + stats_.bytes_shelved; }

  shelf& shelf_for(const shape_key& key, std::size_t bytes) {
    for (auto& s : shelves_)
      if (s.key == key) return s;
    shelves_.push_back(shelf{key, bytes, {}});
    shelves_.back().blocks.reserve(limits_.max_shelved_per_shape);
    return shelves_.back();
  }

  void give_back(void* block, const shape_key& key) noexcept {
    std::size_t count = 1;
    for (std::size_t i = 0; i < key.rank; ++i) count *= key.dims[i];
    const std::size_t bytes = count * key.element_size;
    // Wiped outside the lock: this is the expensive part, and no other thread can see the block yet.
    if (bytes != 0) std::memset(block, 0, bytes);
    std::lock_guard lock(mutex_);
    stats_.bytes_leased -= bytes;
    --stats_.buffers_leased;
    for (auto& s : shelves_) {
      if (!(s.key == key)) continue;
      if (s.blocks.size() < limits_.max_shelved_per_shape && held_bytes() + bytes <= limits_.max_bytes) {
        s.blocks.push_back(block);  // capacity reserved in shelf_for(): no allocation, so noexcept holds
        stats_.bytes_shelved += bytes;
        ++stats_.buffers_shelved;
        return;
      }
      break;
    }
    ++stats_.evictions;
    allocator_.deallocate(block, bytes);
  }

  const pool_limits limits_;
  Alloc allocator_;
  mutable std::mutex mutex_;
  std::vector<shelf> shelves_;
  pool_stats stats_;
};

}  // namespace compute
POWERBATCH_END_NAMESPACE
