// RemoteRegistry: blob HEAD, streamed GET with verification and resume, mount.
#include "http/url.hpp"
#include "registry/json_util.hpp"
#include "registry/remote_errors.hpp"
#include "registry/remote_names.hpp"
#include "registry/remote_registry.hpp"

namespace kiln::registry_detail {
namespace {

// Resumes of one download that made no progress before giving up.
constexpr int kMaxIdleResumes = 3;
// Resumes in total, however much progress each made.
constexpr int kMaxResumes = 50;

bool resumable(const Error& e) { return e.code() == Errc::network || e.code() == Errc::timeout; }

}  // namespace

std::optional<std::int64_t> RemoteRegistry::stat_blob(const std::string& repository, const Digest& digest,
                                                      const CancelToken& cancel) {
  check_repository(repository);
  http::Request request;
  request.method = "HEAD";
  request.url = api_url("/v2/" + repository + "/blobs/" + digest.str(), cancel);
  auto response = send(request, {auth::repository_scope(repository, "pull")}, cancel);
  if (response.status == 404) return std::nullopt;
  if (!response.ok()) throw response_error(response, what("HEAD blob " + repository + "@" + digest.str()));
  auto length = response.headers.get("Content-Length");
  if (!length) throw Error(Errc::protocol, what("HEAD blob " + digest.str()) + ": no Content-Length");
  try {
    return std::stoll(*length);
  } catch (const std::exception&) {
    throw Error(Errc::protocol, what("HEAD blob " + digest.str()) + ": malformed Content-Length");
  }
}

void RemoteRegistry::get_blob(const std::string& repository, const Descriptor& blob, const BlobWriter& writer,
                              const CancelToken& cancel) {
  check_repository(repository);
  const std::string w = what("GET blob " + repository + "@" + blob.digest.str());
  const std::string url = api_url("/v2/" + repository + "/blobs/" + blob.digest.str(), cancel);
  const bool size_known = blob.size >= 0;
  const auto size = static_cast<std::uint64_t>(size_known ? blob.size : 0);
  Hasher hasher(blob.digest.algorithm());
  std::uint64_t received = 0;
  int resumes = 0;
  int idle_resumes = 0;

  for (;;) {
    http::Request request;
    request.url = url;
    const std::uint64_t start = received;
    if (start > 0) request.headers.set("Range", "bytes=" + std::to_string(start) + "-");
    std::uint64_t skip = 0;
    request.on_sink_start = [&](const http::Response& r) {
      if (start == 0) return;
      if (r.status == 200) {
        skip = start;  // the server ignored Range: drop what we already have
      } else if (r.status == 206) {
        auto range = r.headers.get("Content-Range").value_or("");
        if (range.rfind("bytes " + std::to_string(start) + "-", 0) != 0) {
          throw Error(Errc::protocol, w + ": asked to resume at byte " + std::to_string(start) +
                                          ", the registry answered Content-Range \"" + shorten(range) + "\"");
        }
      }
    };
    request.sink = [&](const char* data, std::size_t n) {
      if (skip > 0) {
        std::size_t drop = static_cast<std::size_t>(std::min<std::uint64_t>(skip, n));
        skip -= drop;
        data += drop;
        n -= drop;
        if (n == 0) return;
      }
      if (size_known && received + n > size) {
        throw Error(Errc::digest_mismatch, w + ": the registry sent more than the " + std::to_string(size) +
                                               " bytes the descriptor announces; refusing the blob");
      }
      hasher.update(data, n);
      writer(data, n);
      received += n;
    };
    std::optional<Error> failure;
    try {
      auto response = send(request, {auth::repository_scope(repository, "pull")}, cancel);
      if (!response.ok()) throw response_error(response, w);
    } catch (const Error& e) {
      if (!resumable(e)) throw;
      failure = e;
    }
    bool complete = size_known ? received == size : !failure;
    if (complete) break;
    // A short read or a dropped connection: continue from `received`.
    if (received == start) ++idle_resumes;
    else idle_resumes = 0;
    if (++resumes > kMaxResumes || idle_resumes > kMaxIdleResumes) {
      if (failure) throw Error(failure->code(), std::string(failure->what()) + " (gave up resuming)");
      throw Error(Errc::network, w + ": the registry keeps ending the blob early (" + std::to_string(received) +
                                     " of " + std::to_string(size) + " bytes)");
    }
    cancel.check();
  }
  Digest got = hasher.finish();
  if (got != blob.digest) {
    throw Error(Errc::digest_mismatch, w + ": the bytes served hash to " + got.str() + "; refusing the blob");
  }
}

bool RemoteRegistry::mount_blob(const std::string& repository, const Digest& digest,
                                const std::string& from_repository, const CancelToken& cancel) {
  check_repository(repository);
  check_repository(from_repository);
  std::string w = what("mount blob " + digest.str() + " from " + from_repository + " into " + repository);
  http::Request request;
  request.method = "POST";
  std::string url = api_url("/v2/" + repository + "/blobs/uploads/", cancel);
  url = http::append_query(url, "mount", digest.str());
  url = http::append_query(url, "from", from_repository);
  request.url = url;
  auto response = send(request,
                       {auth::repository_scope(repository, "pull,push"),
                        auth::repository_scope(from_repository, "pull")},
                       cancel);
  if (response.status == 201) return true;
  if (response.status == 202) {
    // The registry opened an upload session instead: keep it for put_blob.
    auto location = response.headers.get("Location");
    if (!location || location->empty()) throw Error(Errc::protocol, w + ": 202 without a Location");
    std::string resolved = http::resolve_url(response.url, *location);
    std::string previous;
    {
      std::lock_guard lock(mutex_);
      auto& slot = mount_sessions_[{repository, digest.str()}];
      previous.swap(slot);
      slot = resolved;
    }
    if (!previous.empty()) delete_session(repository, previous);
    return false;
  }
  throw response_error(response, w);
}

}  // namespace kiln::registry_detail
