#include "control/health/probe_connection.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace isthmus::health {
namespace {

constexpr uint16_t kHttpDefaultPort = 80;
constexpr size_t kStatusCodeDigits = 3;
constexpr size_t kReadChunkBytes = 512;

sockaddr_in SocketAddress(Ipv4Addr address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address.value);
  sa.sin_port = htons(port);
  return sa;
}

ProbeOutcome LocalError(int err) { return {.error = ProbeError::kLocalError, .sys_errno = err}; }

// RFC 9112 section 3: GET with an origin-form target and a Host header.
// `Connection: close` tells the server not to wait for a second request.
std::string BuildRequest(const ProbeSettings& s) {
  std::string host = ToString(s.address);
  if (s.port != kHttpDefaultPort) absl::StrAppend(&host, ":", s.port);
  return absl::StrCat("GET ", s.http_path, " HTTP/1.1\r\nHost: ", host,
                      "\r\nUser-Agent: isthmus-health\r\nConnection: close\r\n\r\n");
}

// The socket's pending error (the result of an asynchronous connect).
int PendingError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace

ProbeOutcome OutcomeOfErrno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return {.error = ProbeError::kRefused};
    case ECONNRESET:
    case EPIPE:
      return {.error = ProbeError::kReset};
    case ETIMEDOUT:
      return {.error = ProbeError::kTimeout};
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
      return {.error = ProbeError::kUnreachable};
    default:
      return {.error = ProbeError::kSocketError, .sys_errno = err};
  }
}

std::optional<int> ParseStatusLine(std::string_view line) {
  // "HTTP/" DIGIT "." DIGIT SP 3DIGIT [SP reason-phrase]
  constexpr std::string_view kPrefix = "HTTP/";
  constexpr size_t kVersionLength = 8;  // "HTTP/1.1"
  if (line.size() < kVersionLength + 1 + kStatusCodeDigits || !line.starts_with(kPrefix)) {
    return std::nullopt;
  }
  if (!absl::ascii_isdigit(line[5]) || line[6] != '.' || !absl::ascii_isdigit(line[7]) ||
      line[kVersionLength] != ' ') {
    return std::nullopt;
  }
  const std::string_view code = line.substr(kVersionLength + 1, kStatusCodeDigits);
  int status = 0;
  for (const char c : code) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
    status = status * 10 + (c - '0');
  }
  const std::string_view rest = line.substr(kVersionLength + 1 + kStatusCodeDigits);
  // The reason phrase is optional but its separating space is not; some
  // servers omit both, which we accept as clients commonly do.
  if (!rest.empty() && rest.front() != ' ') return std::nullopt;
  return status;
}

std::optional<ProbeOutcome> ProbeConnection::Begin(const ProbeSettings& settings) {
  Close();
  http_ = settings.type == ProbeType::kHttp;
  expected_status_ = settings.expected_status;
  request_ = http_ ? BuildRequest(settings) : std::string();
  sent_ = 0;
  response_.clear();

  fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) return LocalError(errno);
  const linger abortive{.l_onoff = 1, .l_linger = 0};
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive)) != 0) {
    return Finish(LocalError(errno));
  }
  if (settings.source.has_value()) {
    // Choose the port at connect time, not at bind: bind() would reserve a
    // port for every (source, *) and run out with many backends.
    const int one = 1;
    if (::setsockopt(fd_.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0) {
      return Finish(LocalError(errno));
    }
    const sockaddr_in local = SocketAddress(*settings.source, 0);
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
      return Finish(LocalError(errno));
    }
  }
  const sockaddr_in remote = SocketAddress(settings.address, settings.port);
  phase_ = Phase::kConnecting;
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&remote), sizeof(remote)) == 0) {
    return OnConnected();
  }
  if (errno == EINPROGRESS) return std::nullopt;
  // Failures the kernel knows at once: a loopback refusal, no route, or
  // nothing left to connect from (EADDRNOTAVAIL is ours, not the backend's).
  if (errno == EADDRNOTAVAIL || errno == EAGAIN) return Finish(LocalError(errno));
  return Finish(OutcomeOfErrno(errno));
}

uint32_t ProbeConnection::wanted_events() const {
  switch (phase_) {
    case Phase::kConnecting:
    case Phase::kSending:
      return EPOLLOUT;
    case Phase::kReading:
      return EPOLLIN;
    case Phase::kClosed:
    case Phase::kDone:
      break;
  }
  return 0;
}

std::optional<ProbeOutcome> ProbeConnection::OnReady(uint32_t events) {
  switch (phase_) {
    case Phase::kConnecting:
      // EPOLLOUT when the handshake completed, EPOLLERR/EPOLLHUP when it
      // failed; SO_ERROR tells which.
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return std::nullopt;
      if (const int err = PendingError(fd_.get()); err != 0) return Finish(OutcomeOfErrno(err));
      return OnConnected();
    case Phase::kSending:
      return SendRequest();
    case Phase::kReading:
      return ReadStatusLine();
    case Phase::kClosed:
    case Phase::kDone:
      break;
  }
  return std::nullopt;
}

std::optional<ProbeOutcome> ProbeConnection::OnConnected() {
  if (!http_) return Finish(ProbeOutcome{});
  phase_ = Phase::kSending;
  return SendRequest();
}

std::optional<ProbeOutcome> ProbeConnection::SendRequest() {
  while (sent_ < request_.size()) {
    const ssize_t n =
        ::send(fd_.get(), request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return std::nullopt;  // wait for EPOLLOUT
      return Finish(OutcomeOfErrno(errno));
    }
    sent_ += static_cast<size_t>(n);
  }
  phase_ = Phase::kReading;
  // The answer may already be there; if not, recv says EAGAIN.
  return ReadStatusLine();
}

std::optional<ProbeOutcome> ProbeConnection::ReadStatusLine() {
  char chunk[kReadChunkBytes];
  while (true) {
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return std::nullopt;
      return Finish(OutcomeOfErrno(errno));
    }
    if (n == 0) return Finish({.error = ProbeError::kNoStatusLine});
    response_.append(chunk, static_cast<size_t>(n));
    const size_t eol = response_.find('\n');
    if (eol == std::string::npos) {
      if (response_.size() > kMaxStatusLineBytes)
        return Finish({.error = ProbeError::kMalformedStatus});
      continue;
    }
    std::string_view line(response_.data(), eol);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const std::optional<int> status = ParseStatusLine(line);
    if (!status.has_value()) return Finish({.error = ProbeError::kMalformedStatus});
    if (*status != expected_status_) {
      return Finish({.error = ProbeError::kBadStatus, .http_status = *status});
    }
    return Finish(ProbeOutcome{});
  }
}

ProbeOutcome ProbeConnection::Finish(ProbeOutcome outcome) {
  // The socket stays open until Close(): the owner must take it out of its
  // epoll set first, while the fd number still means this socket.
  phase_ = Phase::kDone;
  return outcome;
}

void ProbeConnection::Close() {
  fd_.Reset();
  phase_ = Phase::kClosed;
}

}  // namespace isthmus::health
