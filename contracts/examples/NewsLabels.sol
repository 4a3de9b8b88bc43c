// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title NewsLabels
/// @notice Example dApp for the news-signal agent: the agent posts a label for each headline it
///         classified from the headline's verified embedding (the Infera job that embedded it), so
///         anyone can trace a label back to the job, its committee and its vector.
/// @dev Only the owner or the one agent the owner names may post. A headline may be labelled
///      again (the agent learns and may correct itself); the latest label stands and every post
///      is an event.
contract NewsLabels is Ownable2Step {
    /// @notice One headline's latest label.
    /// @param label Short label name, UTF-8, right-padded with zero bytes.
    /// @param scorePpm The agent's cosine to the label's prototype, in millionths (0..1,000,000).
    /// @param jobId The Infera job whose accepted vector the label was decided from.
    /// @param postedAt Block timestamp of the post.
    struct Label {
        bytes32 label;
        uint32 scorePpm;
        uint64 postedAt;
        uint256 jobId;
    }

    /// @notice Cosine scale: 1.0 == 1,000,000.
    uint32 public constant PPM = 1_000_000;

    /// @notice The agent allowed to post besides the owner (zero: nobody but the owner).
    address public agent;
    /// @notice How many posts were made in total (relabels included).
    uint256 public postCount;
    mapping(bytes32 headlineHash => Label) private _labels;

    /// @notice The owner named `current` as the agent in place of `previous`.
    event AgentChanged(address indexed previous, address indexed current);
    /// @notice `poster` labelled the headline with keccak256 `headlineHash` as `label` from job `jobId`.
    event LabelPosted(
        bytes32 indexed headlineHash, uint256 indexed jobId, bytes32 indexed label, uint32 scorePpm, address poster
    );

    /// @notice `caller` is neither the owner nor the agent.
    error NotAgent(address caller);
    /// @notice A label must not be empty.
    error EmptyLabel();
    /// @notice A score is a cosine in millionths: at most 1,000,000.
    error ScoreOutOfRange(uint32 scorePpm);

    /// @param owner_ Who may name the agent (and post).
    /// @param agent_ The agent's address (zero for none yet).
    constructor(address owner_, address agent_) Ownable(owner_) {
        agent = agent_;
        emit AgentChanged(address(0), agent_);
    }

    /// @notice Name the agent that may post labels (zero to allow only the owner).
    function setAgent(address agent_) external onlyOwner {
        emit AgentChanged(agent, agent_);
        agent = agent_;
    }

    /// @notice Post (or replace) the label of a headline.
    /// @param headlineHash keccak256 of the headline's UTF-8 bytes, as the job embedded them.
    /// @param jobId The Infera job whose verified vector the label was decided from.
    /// @param label The label, right-padded UTF-8.
    /// @param scorePpm The cosine to the label's prototype, in millionths.
    function postLabel(bytes32 headlineHash, uint256 jobId, bytes32 label, uint32 scorePpm) external {
        if (msg.sender != agent && msg.sender != owner()) revert NotAgent(msg.sender);
        if (label == bytes32(0)) revert EmptyLabel();
        if (scorePpm > PPM) revert ScoreOutOfRange(scorePpm);
        _labels[headlineHash] = Label(label, scorePpm, uint64(block.timestamp), jobId);
        ++postCount;
        emit LabelPosted(headlineHash, jobId, label, scorePpm, msg.sender);
    }

    /// @notice The latest label of a headline (all zero when it has none).
    function labelOf(bytes32 headlineHash) external view returns (Label memory) {
        return _labels[headlineHash];
    }
}
