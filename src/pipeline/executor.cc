#include "pipeline/executor.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/thread_group.h"
#include "pipeline/bounded_queue.h"

namespace eden::pipeline {
namespace {

class InProcessExecutor final : public Executor {
 public:
  InProcessExecutor(const ExecutorOptions& options, const StageFactories& factories, storage::ObjectStore& store,
                    const DatasetLayout& layout, const convert::ConvertOptions& convert_options, OutcomeSink on_outcome,
                    StopCheck stop)
      : factories_(factories),
        store_(store),
        layout_(layout),
        convert_options_(convert_options),
        on_outcome_(std::move(on_outcome)),
        stop_(std::move(stop)),
        cpu_(options.cpu_workers ? options.cpu_workers : std::max(1u, std::thread::hardware_concurrency())),
        downloaders_(std::max(1u, options.download_concurrency)),
        storers_(std::max(1u, options.store_concurrency)),
        input_capacity_(size_t{2} * downloaders_),
        outcome_capacity_(size_t{2} * storers_ + cpu_),
        storers_left_(storers_),
        fetched_(size_t{2} * cpu_),
        converted_(storers_),
        downloaders_left_(downloaders_),
        converters_left_(cpu_) {
    threads_.Spawn(downloaders_, [this](unsigned) { DownloadLoop(); });
    threads_.Spawn(cpu_, [this](unsigned) { ConvertLoop(); });
    threads_.Spawn(storers_, [this](unsigned) { StoreLoop(); });
  }

  ~InProcessExecutor() override {
    {
      std::lock_guard lock(mu_);
      input_closed_ = true;
      stopping_ = true;
      abandoned_ = true;  // Nobody reads outcomes any more: storers drop theirs.
    }
    cv_.notify_all();
    threads_.Join();
  }

  bool Submit(source::InstanceRow row) override {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stopping_ || input_closed_) return false;
      if (input_.size() < input_capacity_) {
        input_.push_back(std::move(row));
        lock.unlock();
        cv_.notify_all();
        return true;
      }
      if (!outcomes_.empty()) {
        DeliverOne(lock);
        continue;
      }
      cv_.wait(lock);
    }
  }

  Status Finish() override {
    std::unique_lock lock(mu_);
    input_closed_ = true;
    cv_.notify_all();
    for (;;) {
      if (!outcomes_.empty()) {
        DeliverOne(lock);
        continue;
      }
      if (storers_left_ == 0) break;
      cv_.wait(lock);
    }
    lock.unlock();
    threads_.Join();
    return {};
  }

 private:
  /// Hands the oldest outcome to the sink with the lock released; asks `stop` after it.
  void DeliverOne(std::unique_lock<std::mutex>& lock) {
    InstanceOutcome o = std::move(outcomes_.front());
    outcomes_.pop_front();
    lock.unlock();
    cv_.notify_all();  // Room for a storer.
    on_outcome_(std::move(o));
    const bool stop_now = !stop_requested_ && stop_ && stop_();
    lock.lock();
    if (stop_now) {
      stop_requested_ = true;
      stopping_ = true;
      input_.clear();  // Queued, not started: they stay pending in the journal.
      cv_.notify_all();
    }
  }

  void DownloadLoop() {
    auto fetcher = factories_.make_fetcher();
    for (;;) {
      source::InstanceRow row;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !input_.empty() || input_closed_; });
        if (stopping_ || input_.empty()) break;
        row = std::move(input_.front());
        input_.pop_front();
      }
      cv_.notify_all();  // Room in the input.
      fetched_.Push(FetchInstance(row, *fetcher));
    }
    if (--downloaders_left_ == 0) fetched_.Close();
  }

  void ConvertLoop() {
    auto converter = factories_.make_converter();
    auto deidentifier = factories_.make_deidentifier ? factories_.make_deidentifier() : nullptr;
    while (auto f = fetched_.Pop()) {
      converted_.Push(ConvertInstance(std::move(*f), *converter, deidentifier.get(), layout_, convert_options_));
    }
    if (--converters_left_ == 0) converted_.Close();
  }

  void StoreLoop() {
    while (auto c = converted_.Pop()) {
      InstanceOutcome o = StoreInstance(std::move(*c), store_);
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return outcomes_.size() < outcome_capacity_ || abandoned_; });
      if (abandoned_) continue;
      outcomes_.push_back(std::move(o));
      lock.unlock();
      cv_.notify_all();
    }
    {
      std::lock_guard lock(mu_);
      --storers_left_;
    }
    cv_.notify_all();
  }

  const StageFactories& factories_;
  storage::ObjectStore& store_;
  const DatasetLayout layout_;
  const convert::ConvertOptions convert_options_;
  OutcomeSink on_outcome_;
  StopCheck stop_;
  const unsigned cpu_, downloaders_, storers_;
  const size_t input_capacity_, outcome_capacity_;

  // The edges the caller sees (input rows, outcomes) under one lock and one condition, so the
  // caller can wait for "room for a row or an outcome to deliver" without polling.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<source::InstanceRow> input_;
  std::deque<InstanceOutcome> outcomes_;
  bool input_closed_ = false, stopping_ = false, abandoned_ = false, stop_requested_ = false;
  unsigned storers_left_;

  // The inner edges.
  BoundedQueue<Fetched> fetched_;
  BoundedQueue<Converted> converted_;
  std::atomic<unsigned> downloaders_left_, converters_left_;

  ThreadGroup threads_;  // Last: joined before the queues above go.
};

class BatchExecutor final : public Executor {
 public:
  BatchExecutor(Dispatcher dispatch, OutcomeSink on_outcome, StopCheck stop, size_t batch_rows)
      : dispatch_(std::move(dispatch)),
        on_outcome_(std::move(on_outcome)),
        stop_(std::move(stop)),
        batch_rows_(std::max<size_t>(1, batch_rows)) {}

  bool Submit(source::InstanceRow row) override {
    if (stopped_ || !status_) return false;
    batch_.push_back(std::move(row));
    if (batch_.size() >= batch_rows_) Flush();
    return !stopped_ && status_;
  }

  Status Finish() override {
    if (!stopped_ && status_) Flush();
    return status_;
  }

 private:
  void Flush() {
    if (batch_.empty()) return;
    auto stop = [this] {
      if (!stopped_ && stop_ && stop_()) stopped_ = true;
      return stopped_;
    };
    status_ = dispatch_(batch_, on_outcome_, stop);
    batch_.clear();
  }

  Dispatcher dispatch_;
  OutcomeSink on_outcome_;
  StopCheck stop_;
  size_t batch_rows_;
  std::vector<source::InstanceRow> batch_;
  bool stopped_ = false;
  Status status_;
};

}  // namespace

std::unique_ptr<Executor> MakeInProcessExecutor(const ExecutorOptions& options, const StageFactories& factories,
                                                storage::ObjectStore& store, const DatasetLayout& layout,
                                                const convert::ConvertOptions& convert_options, OutcomeSink on_outcome,
                                                StopCheck stop) {
  return std::make_unique<InProcessExecutor>(options, factories, store, layout, convert_options, std::move(on_outcome),
                                             std::move(stop));
}

std::unique_ptr<Executor> MakeBatchExecutor(Dispatcher dispatch, OutcomeSink on_outcome, StopCheck stop,
                                            size_t batch_rows) {
  return std::make_unique<BatchExecutor>(std::move(dispatch), std::move(on_outcome), std::move(stop), batch_rows);
}

ExecutorOptions ExecutorOptions::SizedFor(size_t rows) const {
  ExecutorOptions sized = *this;
  sized.download_concurrency = static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(download_concurrency, rows)));
  return sized;
}

void RunInProcess(const std::vector<source::InstanceRow>& rows, const ExecutorOptions& options,
                  const StageFactories& factories, storage::ObjectStore& store, const DatasetLayout& layout,
                  const convert::ConvertOptions& convert_options, const OutcomeSink& on_outcome,
                  const StopCheck& stop) {
  if (rows.empty()) return;
  auto executor =
      MakeInProcessExecutor(options.SizedFor(rows.size()), factories, store, layout, convert_options, on_outcome, stop);
  for (const auto& row : rows) {
    if (!executor->Submit(row)) break;
  }
  (void)executor->Finish();  // In-process: never an error of its own.
}

}  // namespace eden::pipeline
