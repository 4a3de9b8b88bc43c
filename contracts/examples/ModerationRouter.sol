// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {InferaConsumer} from "../consumers/InferaConsumer.sol";
import {VectorSet} from "../consumers/VectorSet.sol";
import {IJobRegistry} from "../interfaces/IJobRegistry.sol";

/// @title ModerationRouter
/// @notice Example dApp that acts on a result: authors submit messages (paying the inference fee);
///         when a message's verified embedding arrives, the router labels it by its nearest
///         prototype (each prototype, set by the owner, is labelled allowed or blocked), records
///         the verdict on chain and, for a blocked message, marks its author, who can then send
///         nothing more until the owner pardons them.
/// @dev A message is judged by the prototype set in force when it was submitted. Prototypes are
///      stored as a data contract (consumers/VectorSet.sol) to fit the registry's callback gas
///      limit; the nearest one is found with libraries/Cosine.sol.
contract ModerationRouter is InferaConsumer, Ownable2Step {
    // ------------------------------------------------------------------ types
    /// @notice A message's verdict.
    enum Verdict {
        None,
        Pending,
        Allowed,
        Blocked,
        Unscored // the result's length differs from the prototypes' (the model changed)
    }

    /// @dev One slot: the author, the prototype set it is judged by, the verdict, the prototype.
    struct Message {
        address author;
        uint32 prototypeSet;
        Verdict verdict;
        uint8 prototype; // nearest prototype, once judged
    }

    /// @dev One slot: the data contract holding the vectors, how many, and which are blocked
    ///      (bit i set: prototype i is a blocked example).
    struct PrototypeSet {
        address pointer;
        uint16 count;
        uint16 blockedMask;
    }

    // -------------------------------------------------------------- constants
    /// @notice Most prototypes in a set: bounds the callback's gas (about 17,500 per 384-dim
    ///         prototype; with 4 a blocking callback uses about 131,000 of the 200,000 limit), and
    ///         fits the 16-bit mask.
    uint256 public constant MAX_PROTOTYPES = 4;

    // ------------------------------------------------------------- immutables
    /// @notice The model that embeds the messages.
    uint32 public immutable modelId;
    /// @notice Components per vector: the model's dimension at construction.
    uint16 public immutable dimension;

    // ------------------------------------------------------------------ state
    mapping(uint256 messageId => Message) private _messages;
    mapping(uint32 setId => PrototypeSet) private _sets;
    mapping(address author => bool) private _blocked;
    uint32 private _currentSet;

    // ----------------------------------------------------------------- events
    /// @notice Prototype set `setId` (`count` vectors at `pointer`, bit i of `blockedMask` set for
    ///         a blocked prototype) now judges every message submitted from here on.
    event PrototypeSetPublished(uint32 indexed setId, address pointer, uint16 count, uint16 blockedMask);
    /// @notice `author` submitted message `messageId` (its job id), judged by set `setId`.
    event MessageSubmitted(uint256 indexed messageId, address indexed author, uint32 setId);
    /// @notice The message was routed: `verdict` is the label of its nearest prototype
    ///         `prototype`, at cosine `similarityPpm` (parts per million).
    event MessageRouted(
        uint256 indexed messageId, address indexed author, Verdict verdict, uint256 prototype, int256 similarityPpm
    );
    /// @notice The result has `length` components, not `dimension`, so it was not judged.
    event MessageUnscored(uint256 indexed messageId, uint256 length, uint256 dimension);
    /// @notice `author` was marked for blocked message `messageId` and may send no more.
    event AuthorBlocked(address indexed author, uint256 indexed messageId);
    /// @notice The owner lifted `author`'s mark.
    event AuthorPardoned(address indexed author);

    // ----------------------------------------------------------------- errors
    /// @notice No prototype set has been published yet.
    error ModerationRouterNoPrototypes();
    /// @notice A prototype set must hold 1 to `max` vectors, with one label each.
    error ModerationRouterInvalidPrototypeCount(uint256 count, uint256 labels, uint256 max);
    /// @notice Prototype `index` has `length` components; every one needs `dimension`.
    error ModerationRouterInvalidPrototype(uint256 index, uint256 length, uint256 dimension);
    /// @notice Deploying the prototype set's data contract failed.
    error ModerationRouterStoreFailed();
    /// @notice `author` is marked for a blocked message and may not submit.
    error ModerationRouterAuthorBlocked(address author);
    /// @notice `author` is not marked, so there is nothing to pardon.
    error ModerationRouterNotBlocked(address author);
    /// @notice The model's dimension cannot be scored (not a positive multiple of 32).
    error ModerationRouterInvalidDimension(uint16 dimension);
    /// @notice `score` was given vectors of unusable lengths.
    error ModerationRouterInvalidLengths(uint256 vector, uint256 prototypes);

    // ------------------------------------------------------------ constructor
    /// @param registry_ The JobRegistry to submit messages to.
    /// @param modelId_ The model that embeds the messages (its dimension is fixed here).
    /// @param owner_ May publish prototype sets and pardon authors.
    constructor(IJobRegistry registry_, uint32 modelId_, address owner_) InferaConsumer(registry_) Ownable(owner_) {
        uint16 dim = registry_.models().getModel(modelId_).dimension;
        if (dim == 0 || dim % 32 != 0) revert ModerationRouterInvalidDimension(dim);
        modelId = modelId_;
        dimension = dim;
    }

    // --------------------------------------------------------------- external
    /// @notice Publish a new prototype set for messages submitted from now on.
    /// @param prototypes The vectors, each `dimension` int8 components packed one per byte.
    /// @param blocked For each prototype, whether a message nearest to it is blocked.
    /// @return setId The new set's id.
    function setPrototypes(bytes[] calldata prototypes, bool[] calldata blocked)
        external
        onlyOwner
        returns (uint32 setId)
    {
        uint256 count = prototypes.length;
        uint256 max = MAX_PROTOTYPES;
        if (VectorSet.MAX_BYTES / dimension < max) max = VectorSet.MAX_BYTES / dimension;
        if (count == 0 || count > max || blocked.length != count) {
            revert ModerationRouterInvalidPrototypeCount(count, blocked.length, max);
        }
        uint16 mask = 0;
        bytes memory data = "";
        for (uint256 i = 0; i < count; ++i) {
            uint256 length = prototypes[i].length;
            if (length != dimension) revert ModerationRouterInvalidPrototype(i, length, dimension);
            // i < MAX_PROTOTYPES <= 16: the bit fits the mask.
            if (blocked[i]) mask |= uint16(1 << i);
            data = bytes.concat(data, prototypes[i]);
        }
        address pointer = VectorSet.write(data);
        if (pointer == address(0)) revert ModerationRouterStoreFailed();
        setId = ++_currentSet;
        // count <= MAX_PROTOTYPES fits 16 bits.
        _sets[setId] = PrototypeSet({pointer: pointer, count: uint16(count), blockedMask: mask});
        emit PrototypeSetPublished(setId, pointer, uint16(count), mask);
    }

    /// @notice Lift an author's mark, so they may submit again (their blocked messages stay blocked).
    /// @param author The author.
    function pardon(address author) external onlyOwner {
        if (!_blocked[author]) revert ModerationRouterNotBlocked(author);
        delete _blocked[author];
        emit AuthorPardoned(author);
    }

    /// @notice Submit messages for moderation; the caller pays the model's fee for each in INFER
    ///         (approve this contract).
    /// @param texts The messages, 1 to JobRegistry.MAX_BATCH of them.
    /// @return firstMessageId The first message's id (its job id); the others follow in order.
    function submitMessages(string[] calldata texts) external returns (uint256 firstMessageId) {
        if (_blocked[msg.sender]) revert ModerationRouterAuthorBlocked(msg.sender);
        uint32 setId = _currentSet;
        if (setId == 0) revert ModerationRouterNoPrototypes();
        firstMessageId = _requestPaidBy(msg.sender, modelId, texts);
        for (uint256 i = 0; i < texts.length; ++i) {
            uint256 id = firstMessageId + i;
            _messages[id] = Message({author: msg.sender, prototypeSet: setId, verdict: Verdict.Pending, prototype: 0});
            emit MessageSubmitted(id, msg.sender, setId);
        }
    }

    /// @notice The nearest of `prototypes` to `vector` (the callback's computation, exposed to
    ///         preview a message off-chain).
    /// @param vector The vector, a positive multiple of 32 int8 components.
    /// @param prototypes Vectors as long as `vector`, back to back.
    /// @return index The nearest prototype.
    /// @return similarityPpm Its cosine in parts per million, rounded towards zero.
    function nearestPrototype(bytes calldata vector, bytes calldata prototypes)
        external
        pure
        returns (uint256 index, int256 similarityPpm)
    {
        if (vector.length == 0 || vector.length % 32 != 0 || prototypes.length % vector.length != 0) {
            revert ModerationRouterInvalidLengths(vector.length, prototypes.length);
        }
        // Routing goes by the nearest prototype alone: no threshold, so its flag is not needed.
        // slither-disable-next-line unused-return
        (index, similarityPpm,) = VectorSet.nearest(vector, prototypes, 0);
    }

    /// @notice A message's author, prototype set, verdict and nearest prototype.
    /// @param messageId The message.
    /// @return The message.
    function messageOf(uint256 messageId) external view returns (Message memory) {
        return _messages[messageId];
    }

    /// @notice Whether `author` is marked for a blocked message.
    /// @param author The author.
    /// @return True while marked.
    function isBlocked(address author) external view returns (bool) {
        return _blocked[author];
    }

    /// @notice A prototype set's data contract, size and blocked mask.
    /// @param setId The set.
    /// @return The set.
    function prototypeSetOf(uint32 setId) external view returns (PrototypeSet memory) {
        return _sets[setId];
    }

    /// @notice The set new messages are judged by (0 before the first is published).
    /// @return The set's id.
    function currentPrototypeSet() external view returns (uint32) {
        return _currentSet;
    }

    // --------------------------------------------------------------- internal
    /// @dev Cost: two cold slots (message, set), one EXTCODECOPY, the cosine per prototype, one
    ///      slot write, an event, and for a blocked message the author's mark (a fresh slot,
    ///      22,100 gas) and its event. A self-call hands the prototypes to Cosine as calldata.
    function _onResult(uint256 jobId, bytes32, bytes calldata vector) internal override {
        Message storage message = _messages[jobId];
        if (vector.length != dimension) {
            message.verdict = Verdict.Unscored;
            emit MessageUnscored(jobId, vector.length, dimension);
            return;
        }
        PrototypeSet memory set = _sets[message.prototypeSet];
        (uint256 index, int256 similarity) = this.nearestPrototype(vector, VectorSet.read(set.pointer));
        bool isBlockedMessage = (set.blockedMask >> index) & 1 == 1;
        Verdict verdict = isBlockedMessage ? Verdict.Blocked : Verdict.Allowed;
        message.verdict = verdict;
        // index < count <= MAX_PROTOTYPES: fits 8 bits.
        message.prototype = uint8(index);
        address author = message.author;
        emit MessageRouted(jobId, author, verdict, index, similarity);
        if (isBlockedMessage && !_blocked[author]) {
            _blocked[author] = true;
            emit AuthorBlocked(author, jobId);
        }
    }
}
