// RemoteRegistry: blob uploads. POST opens a session (202 + Location, which
// carries state: the newest one is always used), then either one streamed
// PUT ?digest= with the whole body, or (RegistryOptions::chunk_size) chunked
// PATCHes with Content-Range + an empty PUT. One PUT rather than PATCH + PUT
// because distribution re-hashes a PATCHed upload when it is committed
// (measured: +0.28 s per 256 MiB), while it hashes a PUT body as it arrives.
// An interrupted upload continues from the server's Range when the reader
// can seek; any failure or cancel DELETEs the session.
#include <chrono>
#include <random>
#include <thread>

#include "http/url.hpp"
#include "registry/json_util.hpp"
#include "registry/remote_errors.hpp"
#include "registry/remote_names.hpp"
#include "registry/remote_registry.hpp"

namespace kiln::registry_detail {
namespace {

// Feeds exactly `length` bytes of a BlobReader, starting at `start`, to one
// request. Rewinding means seeking the reader back to `start`. A source
// with more bytes than the descriptor says fails before the last bytes go
// out, so the registry never commits it.
class ReaderSource : public http::BodySource {
 public:
  ReaderSource(BlobReader& reader, std::uint64_t start, std::uint64_t length, std::uint64_t total)
      : reader_(reader), start_(start), length_(length), total_(total) {}

  std::size_t read(char* buffer, std::size_t size) override {
    std::uint64_t left = length_ - sent_;
    if (left == 0) return 0;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size, left));
    std::size_t got = reader_.read(buffer, want);
    if (got == 0) {
      throw Error(Errc::invalid_argument, "the blob's source ended after " + std::to_string(start_ + sent_) +
                                              " of the " + std::to_string(total_) +
                                              " bytes its descriptor announces");
    }
    sent_ += got;
    if (sent_ == length_ && start_ + length_ == total_) {
      char extra;
      if (reader_.read(&extra, 1) != 0) {
        throw Error(Errc::invalid_argument, "the blob's source has more than the " + std::to_string(total_) +
                                                " bytes its descriptor announces");
      }
    }
    return got;
  }
  bool rewind() override {
    if (!reader_.seek(start_)) return false;
    sent_ = 0;
    return true;
  }

 private:
  BlobReader& reader_;
  std::uint64_t start_;
  std::uint64_t length_;
  std::uint64_t total_;
  std::uint64_t sent_ = 0;
};

bool resumable(const Error& e) {
  return e.code() == Errc::network || e.code() == Errc::timeout || e.code() == Errc::server ||
         (e.code() == Errc::unavailable && e.http_status() == 429);
}

std::string location_of(const http::Response& response, const std::string& w) {
  auto location = response.headers.get("Location");
  if (!location || location->empty()) {
    throw Error(Errc::protocol, w + ": HTTP " + std::to_string(response.status) + " without a Location");
  }
  return http::resolve_url(response.url, *location);
}

// "0-1234" -> 1235 bytes held by the server; "" -> 0.
std::uint64_t range_end_exclusive(const std::string& range, const std::string& w) {
  if (range.empty()) return 0;
  std::string r = range;
  if (r.rfind("bytes=", 0) == 0) r = r.substr(6);
  auto dash = r.find('-');
  if (dash == std::string::npos || r.substr(0, dash) != "0") {
    throw Error(Errc::protocol, w + ": malformed upload Range \"" + shorten(range) + "\"");
  }
  try {
    std::size_t used = 0;
    auto end = std::stoull(r.substr(dash + 1), &used);
    if (used != r.size() - dash - 1) throw std::invalid_argument("trailing");
    // distribution answers "0-0" for an empty session as well as for one byte;
    // resuming at 0 is the safe reading (a 416 would follow otherwise).
    return end == 0 ? 0 : end + 1;
  } catch (const std::exception&) {
    throw Error(Errc::protocol, w + ": malformed upload Range \"" + shorten(range) + "\"");
  }
}

}  // namespace

std::string RemoteRegistry::start_upload(const std::string& repository, const CancelToken& cancel) {
  std::string w = what("start a blob upload to " + repository);
  http::Request request;
  request.method = "POST";
  request.url = api_url("/v2/" + repository + "/blobs/uploads/", cancel);
  auto response = send(request, {auth::repository_scope(repository, "pull,push")}, cancel);
  if (response.status == 405) {
    auto e = response_error(response, w);
    throw Error(Errc::unavailable, std::string(e.what()) + " (is the registry in read-only mode?)")
        .with_http_status(405)
        .with_remote_code(e.remote_code());
  }
  if (response.status != 202) {
    if (response.ok()) throw Error(Errc::protocol, w + ": expected HTTP 202, got " + std::to_string(response.status));
    throw response_error(response, w);
  }
  return location_of(response, w);
}

std::uint64_t RemoteRegistry::query_upload_offset(const std::string& repository, const std::string& location,
                                                  const CancelToken& cancel, std::string* new_location) {
  std::string w = what("query the upload to " + repository);
  http::Request request;
  request.url = location;
  auto response = send(request, {auth::repository_scope(repository, "pull,push")}, cancel);
  if (response.status != 204 && response.status != 200) throw response_error(response, w);
  if (response.headers.has("Location")) *new_location = location_of(response, w);
  return range_end_exclusive(response.headers.get("Range").value_or(""), w);
}

void RemoteRegistry::put_blob(const std::string& repository, const Descriptor& blob, BlobReader& reader,
                              const CancelToken& cancel) {
  check_repository(repository);
  if (blob.size < 0) {
    throw Error(Errc::invalid_argument, "put blob " + blob.digest.str() + ": the descriptor has no size");
  }
  std::string location;
  {
    std::lock_guard lock(mutex_);
    auto it = mount_sessions_.find({repository, blob.digest.str()});
    if (it != mount_sessions_.end()) {
      location = it->second;
      mount_sessions_.erase(it);
    }
  }
  if (location.empty()) location = start_upload(repository, cancel);
  upload_into(repository, blob, reader, std::move(location), cancel);
}

void RemoteRegistry::upload_into(const std::string& repository, const Descriptor& blob, BlobReader& reader,
                                 std::string location, const CancelToken& cancel) {
  const std::string w = what("upload blob " + blob.digest.str() + " to " + repository);
  const std::vector<std::string> scopes = {auth::repository_scope(repository, "pull,push")};
  const auto size = static_cast<std::uint64_t>(blob.size);
  const std::size_t chunk = options_.chunk_size;
  std::uint64_t offset = 0;
  int failures = 0;
  std::minstd_rand jitter(std::random_device{}());

  // Sends bytes [offset, offset+length) as a PATCH; updates location/offset.
  auto patch = [&](std::uint64_t length, bool with_range) {
    http::Request request;
    request.method = "PATCH";
    request.url = location;
    request.headers.set("Content-Type", "application/octet-stream");
    if (with_range) {
      request.headers.set("Content-Range", std::to_string(offset) + "-" + std::to_string(offset + length - 1));
    }
    ReaderSource source(reader, offset, length, size);
    request.body_source = &source;
    request.body_size = static_cast<std::int64_t>(length);
    // A resent body could append bytes twice: recovery goes through the
    // server's Range instead (the catch below).
    request.retry = false;
    auto response = send(request, scopes, cancel);
    if (response.status != 202) {
      if (response.status == 416) {
        throw Error(Errc::protocol, w + ": the registry refused the chunk at " + std::to_string(offset) +
                                        " as out of order (HTTP 416)")
            .with_http_status(416);
      }
      throw response_error(response, w);
    }
    location = location_of(response, w);
    if (auto range = response.headers.get("Range")) {
      auto held = range_end_exclusive(*range, w);
      if (held != offset + length && !(held == 0 && offset + length == 1)) {
        throw Error(Errc::protocol, w + ": after sending up to byte " + std::to_string(offset + length) +
                                        " the registry holds " + std::to_string(held));
      }
    }
    offset += length;
  };

  // The closing PUT ?digest=, carrying the bytes from `offset` to the end
  // (none after chunked PATCHes).
  auto finish = [&] {
    std::uint64_t length = size - offset;
    http::Request request;
    request.method = "PUT";
    request.url = http::append_query(location, "digest", blob.digest.str());
    ReaderSource source(reader, offset, length, size);
    if (length > 0) {
      request.headers.set("Content-Type", "application/octet-stream");
      if (offset > 0) {
        request.headers.set("Content-Range", std::to_string(offset) + "-" + std::to_string(size - 1));
      }
      request.body_source = &source;
      request.body_size = static_cast<std::int64_t>(length);
      request.retry = false;  // as in patch(): recovery goes through the server's Range
    } else if (size == 0 || chunk == 0) {
      char extra;
      if (reader.read(&extra, 1) != 0) {
        throw Error(Errc::invalid_argument, w + ": the blob's source has more than the " + std::to_string(size) +
                                                " bytes its descriptor announces");
      }
    }
    auto response = send(request, scopes, cancel);
    if (response.status == 404 && length == 0) {
      // A retried commit whose first attempt succeeded: the session is gone
      // but the blob is there.
      auto present = stat_blob(repository, blob.digest, cancel);
      if (present && *present == blob.size) return;
    }
    if (response.status != 201) {
      if (response.ok()) {
        throw Error(Errc::protocol, w + ": expected HTTP 201, got " + std::to_string(response.status));
      }
      throw response_error(response, w);
    }
    if (auto header = response.headers.get("Docker-Content-Digest"); header && *header != blob.digest.str()) {
      throw Error(Errc::digest_mismatch, w + ": the registry stored the blob as " + shorten(*header));
    }
  };

  try {
    for (;;) {
      try {
        if (chunk > 0) {
          while (offset < size) patch(std::min<std::uint64_t>(chunk, size - offset), true);
        }
        finish();
        return;
      } catch (const Error& e) {
        if (!resumable(e) || cancel.cancelled() || ++failures > options_.transport.max_retries) throw;
        auto delay = std::chrono::milliseconds(200 << std::min(failures, 6));
        delay = delay / 2 + std::chrono::milliseconds(jitter() % (delay.count() / 2 + 1));
        auto until = std::chrono::steady_clock::now() + delay;
        while (std::chrono::steady_clock::now() < until) {
          cancel.check();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        auto original = std::current_exception();
        // Continue from what the server holds, if the reader can go there.
        std::uint64_t held = 0;
        try {
          held = query_upload_offset(repository, location, cancel, &location);
        } catch (const Error& q) {
          if (q.code() != Errc::not_found && q.code() != Errc::invalid_argument) throw;
          // The cut-off request may have been the commit itself.
          auto present = stat_blob(repository, blob.digest, cancel);
          if (present && *present == blob.size) return;
          // The session is gone: distribution invalidates it when a PATCH
          // was cut off after some bytes arrived (its state no longer matches
          // the Location kiln holds). Start over in a new one.
          if (!reader.seek(0)) std::rethrow_exception(original);
          location = start_upload(repository, cancel);
          offset = 0;
          continue;
        }
        if (held > size || !reader.seek(held)) std::rethrow_exception(original);
        offset = held;
      }
    }
  } catch (...) {
    delete_session(repository, location);
    throw;
  }
}

}  // namespace kiln::registry_detail
