// A request's completion handler, type-erased without a heap allocation for ordinary handlers.
//
// It holds any Asio completion handler for void(std::error_code, R) and delivers the result exactly once on the
// handler's associated executor, keeping Asio's rules: the handler's own executor (if it names one) has its work
// tracked until then; storage is released before the upcall; a connected cancellation slot is cleared on the
// handler's executor, just before the handler runs.
#pragma once

#include <powerbatch/config.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

namespace asio = boost::asio;

// Shared by a request and the handler installed in its cancellation slot. The request is claimed (moved into a
// batch) or cancelled, whichever comes first; the dispatcher is told about a cancellation through `notify`.
struct cancel_state {
  enum : std::uint8_t { pending = 0, cancel_requested = 1, claimed = 2 };
  std::atomic<std::uint8_t> status{pending};
  std::weak_ptr<void> owner;                 // the batcher core; may be gone when a late cancellation arrives
  void (*notify)(void* owner) = nullptr;     // asks the dispatcher to sweep cancelled requests

  bool claim() noexcept {
    std::uint8_t expected = pending;
    return status.compare_exchange_strong(expected, claimed, std::memory_order_acq_rel);
  }
  bool cancelled() const noexcept { return status.load(std::memory_order_acquire) == cancel_requested; }
};

struct cancel_slot_handler {
  cancel_state* state;
  void operator()(asio::cancellation_type type) const {
    if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                 asio::cancellation_type::total)) == asio::cancellation_type::none)
      return;
    std::uint8_t expected = cancel_state::pending;
    if (state->status.compare_exchange_strong(expected, cancel_state::cancel_requested, std::memory_order_acq_rel))
      if (auto owner = state->owner.lock()) state->notify(owner.get());
  }
};

// Marks "this handler has no executor of its own" in associated_executor look-ups.
struct no_associated_executor {};

template <class Handler>
inline constexpr bool has_own_executor =
    !std::is_same_v<asio::associated_executor_t<Handler, no_associated_executor>, no_associated_executor>;

template <class Result>
class completion {
 public:
  completion() noexcept = default;
  completion(const completion&) = delete;
  completion& operator=(const completion&) = delete;
  completion(completion&& other) noexcept { take(other); }
  completion& operator=(completion&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  ~completion() { reset(); }

  // Stores the handler. If `weak_owner` is given and the handler's cancellation slot is connected, installs a
  // cancellation handler sharing a cancel_state with this completion (see cancellation()).
  template <class Handler>
  void emplace(Handler&& handler, void* owner, std::weak_ptr<void> (*weak_owner)(void*), void (*notify)(void*)) {
    using box_type = box<std::decay_t<Handler>>;
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (weak_owner != nullptr && slot.is_connected()) {
      cancel_ = new cancel_state;
      cancel_->owner = weak_owner(owner);
      cancel_->notify = notify;
      slot.template emplace<cancel_slot_handler>(cancel_slot_handler{cancel_});
    }
    if constexpr (box_type::fits_inline) {
      ::new (static_cast<void*>(storage_.bytes)) box_type(std::forward<Handler>(handler));
    } else {
      auto alloc = typename box_type::allocator_type(asio::get_associated_allocator(handler));
      box_type* p = std::allocator_traits<typename box_type::allocator_type>::allocate(alloc, 1);
      ::new (static_cast<void*>(p)) box_type(std::forward<Handler>(handler));
      storage_.heap = p;
    }
    ops_ = &box_type::table;
  }

  bool empty() const noexcept { return ops_ == nullptr; }
  cancel_state* cancellation() const noexcept { return cancel_; }

  // Delivers (error, result) exactly once. `post_to` is null when the caller already runs on the default
  // executor (so a handler without an executor of its own is invoked inline); otherwise such a handler is
  // posted there. A handler with its own executor is always dispatched to it.
  // `detail` (such as a backend's exception message) reaches handlers that have accept_detail(std::string_view).
  void complete(std::error_code error, Result&& result, std::string_view detail,
                const asio::any_io_executor* post_to) {
    POWERBATCH_ASSERT(ops_ != nullptr, "a request completed twice or was never initialised");
    const ops* table = std::exchange(ops_, nullptr);
    cancel_state* cancel = std::exchange(cancel_, nullptr);
    table->complete(storage(table), error, std::move(result), detail, cancel, post_to);
  }

 private:
  static constexpr std::size_t inline_bytes = POWERBATCH_INLINE_HANDLER_BYTES;
  static constexpr std::size_t inline_alignment = alignof(void*);
  static constexpr std::size_t small_copy_bytes = inline_bytes < 16 ? inline_bytes : 16;

  // Where a handler's box lives and how it moves: on the heap (only its address moves), inline through its move
  // constructor, or inline as 16 plain bytes. The last is the common callback (a lambda capturing a pointer or two,
  // no executor of its own); the dispatcher moves every request twice, and a fixed 16-byte copy measured about 1 ns
  // a request cheaper than the indirect relocate call. Copying the whole 64-byte buffer instead measured slower
  // than the call: it reaches the request's second cache line.
  enum class box_kind : std::uint8_t { heap, inline_moved, inline_small_trivial };

  struct ops {
    void (*complete)(void* box, std::error_code, Result&&, std::string_view, cancel_state*,
                     const asio::any_io_executor*);
    void (*relocate)(void* from, void* to) noexcept;  // inline_moved boxes only
    void (*destroy)(void* box, cancel_state* cancel) noexcept;
    box_kind kind;
  };

  template <class Handler>
  struct box {
    using executor_type = asio::associated_executor_t<Handler, asio::any_io_executor>;
    // Asio composed operations keep the handler's executor busy until completion; for a handler without an
    // executor the batcher's own pending work does that.
    using work_type = std::conditional_t<
        has_own_executor<Handler>,
        std::decay_t<decltype(asio::prefer(std::declval<executor_type>(), asio::execution::outstanding_work.tracked))>,
        std::monostate>;
    using allocator_type = typename std::allocator_traits<
        asio::associated_allocator_t<Handler>>::template rebind_alloc<box>;

    // Pointer alignment, not max_align_t: a 16-aligned buffer left a hole in every request and pushed a small
    // handler onto a second cache line of the queue slot (a 16-aligned handler goes to its allocator instead).
    static constexpr bool fits_inline = sizeof(Handler) + sizeof(work_type) <= inline_bytes &&
                                        alignof(Handler) <= inline_alignment &&
                                        alignof(work_type) <= inline_alignment &&
                                        std::is_nothrow_move_constructible_v<Handler>;

    explicit box(Handler&& h) : handler(std::move(h)), work(make_work(handler)) {}
    explicit box(const Handler& h) : handler(h), work(make_work(handler)) {}

    static work_type make_work(const Handler& h) {
      if constexpr (has_own_executor<Handler>)
        return asio::prefer(asio::get_associated_executor(h), asio::execution::outstanding_work.tracked);
      else
        return {};
    }

    static void release_cancellation(Handler& h, cancel_state* cancel) noexcept {
      if (cancel) {
        asio::get_associated_cancellation_slot(h).clear();
        delete cancel;
      }
    }

    static void complete(void* p, std::error_code error, Result&& result, std::string_view detail,
                         cancel_state* cancel, const asio::any_io_executor* post_to) {
      box* self = static_cast<box*>(p);
      Handler handler(std::move(self->handler));
      if constexpr (requires { handler.accept_detail(detail); }) handler.accept_detail(detail);
      work_type work(std::move(self->work));
      destroy_box(self);  // storage goes back before the upcall, as Asio requires
      if constexpr (has_own_executor<Handler>) {
        auto executor = asio::get_associated_executor(handler);
        auto alloc = asio::get_associated_allocator(handler);
        auto upcall = asio::bind_allocator(alloc, [handler = std::move(handler), work = std::move(work), error,
                                                   result = std::move(result), cancel]() mutable {
          release_cancellation(handler, cancel);
          std::move(handler)(error, std::move(result));
          (void)work;
        });
        // `post_to` is given only from an initiating function (a refusal at submission), which must never complete
        // inline — not even when the caller already runs on the handler's executor.
        if (post_to != nullptr)
          asio::post(executor, std::move(upcall));
        else
          asio::dispatch(executor, std::move(upcall));
      } else if (post_to == nullptr) {
        release_cancellation(handler, cancel);
        std::move(handler)(error, std::move(result));
      } else {
        auto alloc = asio::get_associated_allocator(handler);
        asio::post(*post_to, asio::bind_allocator(alloc, [handler = std::move(handler), error,
                                                           result = std::move(result), cancel]() mutable {
                     release_cancellation(handler, cancel);
                     std::move(handler)(error, std::move(result));
                   }));
      }
    }

    static void destroy_box(box* self) noexcept {
      if constexpr (fits_inline) {
        self->~box();
      } else {
        allocator_type alloc(asio::get_associated_allocator(self->handler));
        self->~box();
        std::allocator_traits<allocator_type>::deallocate(alloc, self, 1);
      }
    }

    static void relocate(void* from, void* to) noexcept {
      box* source = static_cast<box*>(from);
      ::new (to) box(std::move(source->handler), std::move(source->work));
      source->~box();
    }

    static void destroy(void* p, cancel_state* cancel) noexcept {
      box* self = static_cast<box*>(p);
      release_cancellation(self->handler, cancel);
      destroy_box(self);
    }

    box(Handler&& h, work_type&& w) : handler(std::move(h)), work(std::move(w)) {}

    static constexpr box_kind kind = !fits_inline ? box_kind::heap
                                     : std::is_trivially_copyable_v<box> && sizeof(box) <= small_copy_bytes
                                         ? box_kind::inline_small_trivial
                                         : box_kind::inline_moved;
    static constexpr ops table{&complete, &relocate, &destroy, kind};

    Handler handler;
    [[no_unique_address]] work_type work;
  };

  void* storage(const ops* table) noexcept {
    return table->kind != box_kind::heap ? static_cast<void*>(storage_.bytes) : storage_.heap;
  }

  void take(completion& other) noexcept {
    ops_ = std::exchange(other.ops_, nullptr);
    cancel_ = std::exchange(other.cancel_, nullptr);
    if (ops_ == nullptr) return;
    switch (ops_->kind) {
      case box_kind::inline_small_trivial: std::memcpy(storage_.bytes, other.storage_.bytes, small_copy_bytes); break;
      case box_kind::inline_moved: ops_->relocate(other.storage_.bytes, storage_.bytes); break;
      case box_kind::heap: storage_.heap = other.storage_.heap; break;
    }
  }

  // A completion destroyed while still holding a handler breaks the exactly-once promise; the batcher never
  // does this, but a program tearing down an io_context with work queued may, and must not leak.
  void reset() noexcept {
    if (ops_ == nullptr) return;
    const ops* table = std::exchange(ops_, nullptr);
    table->destroy(storage(table), std::exchange(cancel_, nullptr));
  }

  // The box lives inline, or on the handler's allocator with only its address here (ops_ says which). Left
  // uninitialised until then: nothing reads it while ops_ is null, and zeroing it cost every move 64 bytes of
  // stores.
  union box_storage {
    box_storage() noexcept {}
    void* heap;
    alignas(inline_alignment) unsigned char bytes[inline_bytes];
  };

  const ops* ops_ = nullptr;
  cancel_state* cancel_ = nullptr;
  box_storage storage_;
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
