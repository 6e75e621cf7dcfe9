// copy_image (publish): manifests are read first (to learn every blob), blobs
// are then copied by a few workers in parallel — skipped when the target has
// them, mounted when source and target share storage, streamed otherwise —
// and manifests are put last, children before parents, byte for byte.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "kiln/registry.hpp"
#include "registry/blob_pipe.hpp"
#include "registry/copy_events.hpp"
#include "registry/json_util.hpp"
#include "registry/oci_layout.hpp"

namespace kiln {
namespace json = boost::json;
using namespace registry_detail;

namespace {

constexpr std::size_t kPipeCapacity = 4 << 20;
constexpr int kMaxParallelBlobs = 16;
constexpr int kMaxIndexDepth = 4;

Error with_context(const Error& e, const std::string& context) {
  Error out(e.code(), context + ": " + e.what());
  out.with_http_status(e.http_status()).with_remote_code(e.remote_code());
  return out;
}

// Triggers `inner` when the caller's token is triggered. The registry calls
// take one token; this one also stops when a worker fails or the event sink
// says stop, without touching the caller's token.
class CancelLink {
 public:
  CancelLink(CancelToken outer, CancelToken inner) : thread_([this, outer, inner]() mutable {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (outer.cancelled()) {
        inner.cancel();
        return;
      }
      wake_.wait_for(lock, std::chrono::milliseconds(20));
    }
  }) {}
  ~CancelLink() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

struct Plan {
  Manifest top;
  bool rewritten = false;
  std::vector<Manifest> children;  // put order: children before their parents
  std::vector<Descriptor> blobs;   // unique by digest
};

struct PlatformFilter {
  std::string os, architecture, variant;
};

std::vector<PlatformFilter> parse_platforms(const std::vector<std::string>& specs) {
  std::vector<PlatformFilter> out;
  for (const auto& spec : specs) {
    PlatformFilter filter;
    auto first = spec.find('/');
    auto second = first == std::string::npos ? std::string::npos : spec.find('/', first + 1);
    if (first == std::string::npos || first == 0 || first + 1 == spec.size() || second == first + 1 ||
        (second != std::string::npos && (second + 1 == spec.size() || spec.find('/', second + 1) != std::string::npos))) {
      throw Error(Errc::invalid_argument, "platform \"" + shorten(spec) + "\" must be os/architecture[/variant]");
    }
    filter.os = spec.substr(0, first);
    filter.architecture = spec.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    if (second != std::string::npos) filter.variant = spec.substr(second + 1);
    out.push_back(std::move(filter));
  }
  return out;
}

bool matches(const std::optional<Platform>& platform, const std::vector<PlatformFilter>& filters) {
  if (!platform) return false;
  for (const auto& f : filters) {
    if (platform->os == f.os && platform->architecture == f.architecture &&
        (f.variant.empty() || platform->variant == f.variant)) {
      return true;
    }
  }
  return false;
}

// The index without the children the filter excludes. This is the one place
// a manifest is re-serialized, and the result reports the new digest.
Manifest filter_index(const Manifest& index, const std::vector<PlatformFilter>& filters,
                      const std::vector<std::string>& specs) {
  json::object document = parse_object(index.bytes, "index");
  json::array kept;
  std::vector<std::string> available;
  for (const auto& entry : required_array(document, "manifests", "index")) {
    Descriptor child = descriptor_from_json(entry, "index.manifests[]");
    if (child.platform) available.push_back(child.platform->str());
    if (matches(child.platform, filters)) kept.push_back(entry);
  }
  if (kept.empty()) {
    std::string wanted, have;
    for (const auto& s : specs) wanted += (wanted.empty() ? "" : ", ") + s;
    for (const auto& s : available) have += (have.empty() ? "" : ", ") + s;
    throw Error(Errc::not_found, "no platform " + wanted + " in the index; it has " + (have.empty() ? "none" : have));
  }
  document["manifests"] = std::move(kept);
  return Manifest{index.media_type, json::serialize(document)};
}

bool is_foreign(const Descriptor& blob) {
  // Non-distributable layers live at their URLs, not in registries (skopeo
  // does not copy them either).
  return blob.media_type.find("foreign") != std::string::npos ||
         blob.media_type.find("nondistributable") != std::string::npos;
}

void collect(Registry& source, const std::string& repository, const Manifest& manifest, int depth, Plan& plan,
             std::set<Digest>& seen_manifests, std::set<Digest>& seen_blobs, const CancelToken& cancel) {
  cancel.check();
  std::vector<Descriptor> references = manifest.references();
  if (!manifest.is_index()) {
    for (auto& blob : references) {
      if (is_foreign(blob)) continue;
      if (seen_blobs.insert(blob.digest).second) plan.blobs.push_back(std::move(blob));
    }
    return;
  }
  if (depth >= kMaxIndexDepth) throw Error(Errc::protocol, "indexes nest more than 4 levels deep");
  for (const auto& child : references) {
    if (!seen_manifests.insert(child.digest).second) continue;
    Manifest child_manifest;
    try {
      child_manifest = source.get_manifest(repository, child.digest.str(), cancel);
    } catch (const Error& e) {
      throw with_context(e, "reading " + child.digest.str() + " of the index");
    }
    if (child_manifest.digest() != child.digest) {
      throw Error(Errc::digest_mismatch, "child manifest " + child.digest.str() + " hashes to " +
                                             child_manifest.digest().str());
    }
    collect(source, repository, child_manifest, depth + 1, plan, seen_manifests, seen_blobs, cancel);
    plan.children.push_back(std::move(child_manifest));
  }
}

// Counts bytes as the uploader pulls them and reports progress.
class CountingReader : public BlobReader {
 public:
  CountingReader(BlobReader& inner, const Descriptor& blob, CopyEvents& events)
      : inner_(inner), blob_(blob), events_(events) {}
  std::size_t read(char* buffer, std::size_t size) override {
    std::size_t n = inner_.read(buffer, size);
    position_ += static_cast<std::int64_t>(n);
    if (events_.enabled() && throttle_.due()) {
      json::object details = blob_details(blob_);
      details["bytes"] = position_;
      events_.emit("blob.progress", details);
    }
    return n;
  }
  bool seek(std::uint64_t offset) override {
    if (!inner_.seek(offset)) return false;
    position_ = static_cast<std::int64_t>(offset);
    return true;
  }

 private:
  BlobReader& inner_;
  const Descriptor& blob_;
  CopyEvents& events_;
  ProgressThrottle throttle_;
  std::int64_t position_ = 0;
};

struct Counters {
  std::atomic<std::int64_t> copied{0}, mounted{0}, skipped{0}, bytes{0}, manifests{0};
};

class BlobCopier {
 public:
  BlobCopier(Registry& source, const std::string& source_repository, Registry& target,
             const std::string& target_repository, CopyEvents& events, Counters& counters, CancelToken operation)
      : source_(source), source_repository_(source_repository), target_(target),
        target_repository_(target_repository), events_(events), counters_(counters), op_(std::move(operation)),
        same_storage_(target.same_storage(source)),
        layout_(dynamic_cast<OciLayout*>(&source)) {}

  void copy(const Descriptor& blob) {
    op_.check();
    if (target_.stat_blob(target_repository_, blob.digest, op_)) {
      counters_.skipped++;
      events_.emit("blob.skipped", blob_details(blob));
      return;
    }
    if (same_storage_ && target_.mount_blob(target_repository_, blob.digest, source_repository_, op_)) {
      counters_.mounted++;
      json::object details = blob_details(blob);
      details["from"] = source_repository_;
      events_.emit("blob.mounted", details);
      return;
    }
    events_.emit("blob.start", blob_details(blob));
    if (layout_) {
      // A file is seekable: the uploader may resume after an interruption.
      auto file = layout_->open_blob(blob);
      CountingReader reader(*file, blob, events_);
      target_.put_blob(target_repository_, blob, reader, op_);
    } else {
      stream(blob);
    }
    counters_.copied++;
    counters_.bytes += blob.size;
    json::object details = blob_details(blob);
    details["bytes"] = blob.size;
    events_.emit("blob.done", details);
  }

 private:
  void stream(const Descriptor& blob) {
    BlobPipe pipe(kPipeCapacity, op_);
    std::exception_ptr download_error;
    std::thread producer([&] {
      bool complete = false;
      try {
        source_.get_blob(source_repository_, blob, [&](const char* data, std::size_t size) { pipe.write(data, size); },
                         op_);
        complete = true;
      } catch (...) {
        download_error = std::current_exception();
      }
      pipe.close_write(complete);
    });
    std::exception_ptr upload_error;
    try {
      PipeReader pipe_reader(pipe);
      CountingReader reader(pipe_reader, blob, events_);
      target_.put_blob(target_repository_, blob, reader, op_);
    } catch (...) {
      upload_error = std::current_exception();
    }
    pipe.close_read();
    producer.join();
    // The download's failure explains a short upload better than the
    // registry's "digest invalid" does.
    if (download_error) {
      try {
        std::rethrow_exception(download_error);
      } catch (const Error& e) {
        if (!upload_error || e.code() != Errc::cancelled) throw with_context(e, "reading from " + source_.describe());
      }
    }
    if (upload_error) std::rethrow_exception(upload_error);
  }

  Registry& source_;
  const std::string& source_repository_;
  Registry& target_;
  const std::string& target_repository_;
  CopyEvents& events_;
  Counters& counters_;
  CancelToken op_;
  bool same_storage_;
  OciLayout* layout_;
};

// Runs copier.copy over all blobs with `parallel` workers; the first real
// failure stops the others (through `operation`) and is rethrown.
void copy_blobs(BlobCopier& copier, const std::vector<Descriptor>& blobs, int parallel, CancelToken operation) {
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr first_error;
  bool first_is_cancel = false;
  auto worker = [&] {
    for (;;) {
      std::size_t i = next.fetch_add(1);
      if (i >= blobs.size() || operation.cancelled()) return;
      try {
        copier.copy(blobs[i]);
      } catch (const Error& e) {
        std::lock_guard lock(mutex);
        bool cancel = e.code() == Errc::cancelled;
        if (!first_error || (first_is_cancel && !cancel)) {
          first_error = std::make_exception_ptr(with_context(e, "copying blob " + blobs[i].digest.str()));
          first_is_cancel = cancel;
        }
        operation.cancel();
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!first_error || first_is_cancel) {
          first_error = std::current_exception();
          first_is_cancel = false;
        }
        operation.cancel();
      }
    }
  };
  int workers = std::clamp(parallel, 1, kMaxParallelBlobs);
  workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(workers), blobs.size()));
  std::vector<std::thread> threads;
  for (int i = 1; i < workers; ++i) threads.emplace_back(worker);
  if (workers > 0) worker();
  for (auto& thread : threads) thread.join();
  if (first_error) std::rethrow_exception(first_error);
}

json::object manifest_details(const Manifest& manifest, const std::string& reference) {
  json::object details;
  details["digest"] = manifest.digest().str();
  details["mediaType"] = manifest.media_type;
  details["size"] = static_cast<std::int64_t>(manifest.bytes.size());
  details["reference"] = reference;
  return details;
}

}  // namespace

CopyResult copy_image(Registry& source, const std::string& source_repository, const std::string& source_reference,
                      Registry& target, const std::string& target_repository, const std::string& target_reference,
                      const CopyOptions& options, const EventSink& events, const CancelToken& cancel) {
  auto filters = parse_platforms(options.platforms);
  CancelToken operation;
  CancelLink link(cancel, operation);
  CopyEvents emitter(events, operation);
  Counters counters;
  auto check = [&] {
    if (cancel.cancelled() || emitter.cancelled_by_sink()) throw Error(Errc::cancelled, "copy cancelled");
  };

  try {
    Plan plan;
    plan.top = source.get_manifest(source_repository, source_reference, operation);
    if (!filters.empty() && plan.top.is_index()) {
      plan.top = filter_index(plan.top, filters, options.platforms);
      plan.rewritten = true;
    }
    std::set<Digest> seen_manifests{plan.top.digest()};
    std::set<Digest> seen_blobs;
    collect(source, source_repository, plan.top, 0, plan, seen_manifests, seen_blobs, operation);

    std::string reference = target_reference;
    if (reference.empty()) {
      reference = !source_reference.empty() && !Digest::is_valid(source_reference) ? source_reference
                                                                                      : plan.top.digest().str();
    }
    if (Digest::is_valid(reference) && Digest::parse(reference) != plan.top.digest()) {
      throw Error(Errc::invalid_argument, "target reference " + reference + " is a digest, but the image copied is " +
                                              plan.top.digest().str() +
                                              (plan.rewritten ? " (the platform filter rewrote the index)" : ""));
    }
    for (const auto& tag : options.extra_tags) {
      if (tag.empty() || Digest::is_valid(tag)) throw Error(Errc::invalid_argument, "extra tag \"" + shorten(tag) + "\" is not a tag");
    }

    // A registry accepts a manifest only when everything it references is
    // in the repository, so a target that has this manifest has all of it:
    // only the tags remain to be put. Asking also connects to the target
    // once before the workers start.
    auto existing = target.resolve(target_repository, plan.top.digest().str(), operation);
    bool complete = existing && existing->digest == plan.top.digest();
    if (complete) {
      for (const auto& blob : plan.blobs) {
        counters.skipped++;
        emitter.emit("blob.skipped", blob_details(blob));
      }
    } else {
      BlobCopier copier(source, source_repository, target, target_repository, emitter, counters, operation);
      copy_blobs(copier, plan.blobs, options.parallel_blobs, operation);
    }
    check();

    for (const auto& child : complete ? std::vector<Manifest>{} : plan.children) {
      operation.check();
      if (auto existing = target.resolve(target_repository, child.digest().str(), operation);
          existing && existing->digest == child.digest()) {
        continue;
      }
      target.put_manifest(target_repository, child.digest().str(), child, operation);
      counters.manifests++;
      emitter.emit("manifest.put", manifest_details(child, child.digest().str()));
    }
    std::vector<std::string> references{reference};
    references.insert(references.end(), options.extra_tags.begin(), options.extra_tags.end());
    for (const auto& ref : references) {
      operation.check();
      target.put_manifest(target_repository, ref, plan.top, operation);
      if (auto* layout = dynamic_cast<OciLayout*>(&target); layout && Digest::is_valid(ref)) {
        layout->record_untagged(plan.top);
      }
      counters.manifests++;
      emitter.emit("manifest.put", manifest_details(plan.top, ref));
    }
    check();

    CopyResult result;
    result.descriptor = plan.top.descriptor();
    result.blobs_copied = counters.copied;
    result.blobs_mounted = counters.mounted;
    result.blobs_skipped = counters.skipped;
    result.bytes_copied = counters.bytes;
    result.manifests_put = counters.manifests;
    json::object done = manifest_details(plan.top, reference);
    done["rewritten"] = plan.rewritten;
    done["blobsCopied"] = result.blobs_copied;
    done["blobsMounted"] = result.blobs_mounted;
    done["blobsSkipped"] = result.blobs_skipped;
    done["bytesCopied"] = result.bytes_copied;
    done["manifestsPut"] = result.manifests_put;
    emitter.emit("copy.done", done);
    return result;
  } catch (const Error& e) {
    check();  // a cancellation explains every error it caused
    throw;
  }
}

}  // namespace kiln
