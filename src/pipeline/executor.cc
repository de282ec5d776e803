#include "pipeline/executor.h"

#include <atomic>
#include <thread>

#include "pipeline/bounded_queue.h"

namespace eden::pipeline {

void RunInProcess(const std::vector<source::InstanceRow>& rows, const ExecutorOptions& options,
                  const StageFactories& factories, storage::ObjectStore& store, const DatasetLayout& layout,
                  const convert::ConvertOptions& convert_options,
                  const std::function<void(InstanceOutcome&&)>& on_outcome, const std::function<bool()>& stop) {
  if (rows.empty()) return;
  const unsigned cpu = options.cpu_workers ? options.cpu_workers : std::max(1u, std::thread::hardware_concurrency());
  const unsigned downloaders = std::max(1u, std::min<unsigned>(options.download_concurrency, rows.size()));
  const unsigned storers = std::max(1u, options.store_concurrency);
  BoundedQueue<Fetched> fetched(cpu * 2);
  BoundedQueue<Converted> converted(storers);
  BoundedQueue<InstanceOutcome> outcomes(rows.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> stopping{false};
  std::atomic<unsigned> downloaders_left{downloaders};
  std::atomic<unsigned> converters_left{cpu};
  std::atomic<unsigned> storers_left{storers};

  std::vector<std::thread> threads;
  for (unsigned i = 0; i < downloaders; ++i) {
    threads.emplace_back([&] {
      auto fetcher = factories.make_fetcher();
      for (size_t k; !stopping.load(std::memory_order_relaxed) && (k = next++) < rows.size();) {
        fetched.Push(FetchInstance(rows[k], *fetcher));
      }
      if (--downloaders_left == 0) fetched.Close();
    });
  }
  for (unsigned i = 0; i < cpu; ++i) {
    threads.emplace_back([&] {
      auto converter = factories.make_converter();
      auto deidentifier = factories.make_deidentifier ? factories.make_deidentifier() : nullptr;
      while (auto f = fetched.Pop())
        converted.Push(ConvertInstance(std::move(*f), *converter, deidentifier.get(), layout, convert_options));
      if (--converters_left == 0) converted.Close();
    });
  }
  for (unsigned i = 0; i < storers; ++i) {
    threads.emplace_back([&] {
      while (auto c = converted.Pop()) outcomes.Push(StoreInstance(std::move(*c), store));
      if (--storers_left == 0) outcomes.Close();
    });
  }
  // Every started row reaches `outcomes` (the queues only close once their producers are done).
  while (auto o = outcomes.Pop()) {
    on_outcome(std::move(*o));
    if (stop && !stopping.load(std::memory_order_relaxed) && stop()) stopping = true;
  }
  for (auto& t : threads) t.join();
}

}  // namespace eden::pipeline
