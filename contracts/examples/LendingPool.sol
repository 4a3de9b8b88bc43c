// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title LendingPool
/// @notice Example dApp for the loan-risk agent: a minimal pool lending one ERC20 against
///         collateral in the same token. A borrower requests a loan with a free-text description;
///         an adjuster (the agent, which embeds the description through Infera) may flag it risky
///         before it opens, raising the collateral it needs; the borrower then opens it (collateral
///         in, principal out) and repays it, or the admin marks it defaulted after its due time and
///         the pool keeps the collateral. Repaid and defaulted loans are the outcomes the agent
///         learns from.
/// @dev Liquidity is whatever the pool holds beyond the collateral it owes back; anyone may fund it.
contract LendingPool is AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice May flag loans as risky.
    bytes32 public constant ADJUSTER_ROLE = keccak256("ADJUSTER_ROLE");
    /// @notice Risk score scale: 1.0 == 1,000,000.
    uint32 public constant PPM = 1_000_000;
    /// @notice Basis points scale.
    uint16 public constant BPS = 10_000;

    /// @notice Where a loan is.
    enum Status {
        None,
        Requested,
        Open,
        Repaid,
        Defaulted
    }

    /// @notice One loan. Collateral is `amount * collateralBps / 10,000` of the token.
    struct Loan {
        address borrower;
        Status status;
        bool risky;
        uint32 riskPpm;
        uint32 collateralBps;
        uint64 dueAt;
        uint256 amount;
        uint256 collateral;
        string description;
    }

    /// @notice The token lent and taken as collateral.
    IERC20 public immutable asset;
    /// @notice Collateral a loan needs before any flag, in basis points of its amount.
    uint32 public immutable baseCollateralBps;
    /// @notice Extra collateral a risk score of 1.0 adds, in basis points (scaled by the score).
    uint32 public immutable maxRiskPremiumBps;
    /// @notice Seconds from opening until a loan is due.
    uint64 public immutable term;

    /// @notice Loans are numbered from 1.
    uint256 public loanCount;
    /// @notice Collateral held for open loans (not lendable).
    uint256 public collateralHeld;
    mapping(uint256 loanId => Loan) private _loans;

    /// @notice `borrower` asked for `amount` with `description`.
    event LoanRequested(uint256 indexed loanId, address indexed borrower, uint256 amount, string description);
    /// @notice The adjuster scored loan `loanId` risky at `scorePpm`; it now needs `collateralBps`.
    event RiskFlagged(uint256 indexed loanId, address indexed adjuster, uint32 scorePpm, uint32 collateralBps);
    /// @notice The loan opened: `collateral` in, its amount out to the borrower.
    event LoanOpened(uint256 indexed loanId, uint256 collateral, uint64 dueAt);
    /// @notice The borrower repaid; the collateral went back.
    event LoanRepaid(uint256 indexed loanId);
    /// @notice The loan was not repaid by its due time; the pool kept `collateral`.
    event LoanDefaulted(uint256 indexed loanId, uint256 collateral);
    /// @notice `funder` added `amount` of liquidity.
    event Funded(address indexed funder, uint256 amount);

    /// @notice The loan is not in the state this call needs.
    error WrongStatus(uint256 loanId, Status status);
    /// @notice Only the borrower may do this.
    error NotBorrower(uint256 loanId, address caller);
    /// @notice A score is at most 1,000,000 and a flag needs one above zero.
    error ScoreOutOfRange(uint32 scorePpm);
    /// @notice A loan must be for more than zero and its description not empty.
    error InvalidLoan();
    /// @notice The pool holds `available` to lend, less than `amount`.
    error InsufficientLiquidity(uint256 amount, uint256 available);
    /// @notice The loan is due at `dueAt`; it cannot default before.
    error NotDue(uint256 loanId, uint64 dueAt);

    /// @param asset_ Token lent and taken as collateral.
    /// @param admin Holds the admin role (grants the adjuster role, marks defaults).
    /// @param baseCollateralBps_ Collateral of an unflagged loan (e.g. 12,000 = 120%).
    /// @param maxRiskPremiumBps_ Extra collateral at a risk score of 1.0.
    /// @param term_ Seconds from opening until due.
    constructor(IERC20 asset_, address admin, uint32 baseCollateralBps_, uint32 maxRiskPremiumBps_, uint64 term_) {
        asset = asset_;
        baseCollateralBps = baseCollateralBps_;
        maxRiskPremiumBps = maxRiskPremiumBps_;
        term = term_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Add liquidity (the caller approved `amount` first).
    function fund(uint256 amount) external nonReentrant {
        emit Funded(msg.sender, amount);
        asset.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Ask for a loan of `amount`; `description` says what it is for.
    function requestLoan(uint256 amount, string calldata description) external returns (uint256 loanId) {
        if (amount == 0 || bytes(description).length == 0) revert InvalidLoan();
        loanId = ++loanCount;
        Loan storage loan = _loans[loanId];
        loan.borrower = msg.sender;
        loan.status = Status.Requested;
        loan.collateralBps = baseCollateralBps;
        loan.amount = amount;
        loan.description = description;
        emit LoanRequested(loanId, msg.sender, amount, description);
    }

    /// @notice Flag a requested loan as risky with a score; its collateral rises with the score.
    ///         A later flag replaces the earlier (the adjuster may revise its score).
    function flagRisk(uint256 loanId, uint32 scorePpm) external onlyRole(ADJUSTER_ROLE) {
        Loan storage loan = _loans[loanId];
        if (loan.status != Status.Requested) revert WrongStatus(loanId, loan.status);
        if (scorePpm == 0 || scorePpm > PPM) revert ScoreOutOfRange(scorePpm);
        uint32 bps = baseCollateralBps + uint32((uint256(maxRiskPremiumBps) * scorePpm) / PPM);
        loan.risky = true;
        loan.riskPpm = scorePpm;
        loan.collateralBps = bps;
        emit RiskFlagged(loanId, msg.sender, scorePpm, bps);
    }

    /// @notice Open a requested loan: the borrower (who approved the collateral) posts it and
    ///         receives the amount.
    function openLoan(uint256 loanId) external nonReentrant {
        Loan storage loan = _loans[loanId];
        if (loan.status != Status.Requested) revert WrongStatus(loanId, loan.status);
        if (msg.sender != loan.borrower) revert NotBorrower(loanId, msg.sender);
        uint256 available = asset.balanceOf(address(this)) - collateralHeld;
        if (available < loan.amount) revert InsufficientLiquidity(loan.amount, available);
        uint256 collateral = (loan.amount * loan.collateralBps) / BPS;
        uint64 dueAt = uint64(block.timestamp) + term;
        loan.status = Status.Open;
        loan.collateral = collateral;
        loan.dueAt = dueAt;
        collateralHeld += collateral;
        emit LoanOpened(loanId, collateral, dueAt);
        asset.safeTransferFrom(msg.sender, address(this), collateral);
        asset.safeTransfer(msg.sender, loan.amount);
    }

    /// @notice Repay an open loan (the borrower approved its amount); the collateral comes back.
    function repay(uint256 loanId) external nonReentrant {
        Loan storage loan = _loans[loanId];
        if (loan.status != Status.Open) revert WrongStatus(loanId, loan.status);
        if (msg.sender != loan.borrower) revert NotBorrower(loanId, msg.sender);
        loan.status = Status.Repaid;
        collateralHeld -= loan.collateral;
        emit LoanRepaid(loanId);
        asset.safeTransferFrom(msg.sender, address(this), loan.amount);
        asset.safeTransfer(msg.sender, loan.collateral);
    }

    /// @notice Mark an open loan past its due time defaulted; the pool keeps its collateral.
    function markDefault(uint256 loanId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Loan storage loan = _loans[loanId];
        if (loan.status != Status.Open) revert WrongStatus(loanId, loan.status);
        if (block.timestamp < loan.dueAt) revert NotDue(loanId, loan.dueAt);
        loan.status = Status.Defaulted;
        collateralHeld -= loan.collateral;
        emit LoanDefaulted(loanId, loan.collateral);
    }

    /// @notice One loan's record.
    function loanOf(uint256 loanId) external view returns (Loan memory) {
        return _loans[loanId];
    }
}
