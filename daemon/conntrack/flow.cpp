#include "conntrack/flow.hpp"

namespace verdictd {

std::string_view ct_state_name(CtState state) {
  switch (state) {
    case CtState::kInvalid:
      return "INVALID";
    case CtState::kNew:
      return "NEW";
    case CtState::kEstablished:
      return "ESTABLISHED";
    case CtState::kRelated:
      return "RELATED";
    case CtState::kUntracked:
      return "UNTRACKED";
  }
  return "INVALID";
}

std::string_view tcp_state_name(TcpState state) {
  switch (state) {
    case TcpState::kNone:
      return "NONE";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynRecv:
      return "SYN_RECV";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait:
      return "FIN_WAIT";
    case TcpState::kCloseWait:
      return "CLOSE_WAIT";
    case TcpState::kLastAck:
      return "LAST_ACK";
    case TcpState::kTimeWait:
      return "TIME_WAIT";
    case TcpState::kClose:
      return "CLOSE";
    case TcpState::kSynSent2:
      return "SYN_SENT2";
  }
  return "NONE";
}

}  // namespace verdictd
